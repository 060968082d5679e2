{{/* Labels every object gets; the component label is added where there is one. */}}
{{- define "tether.labels" -}}
app.kubernetes.io/part-of: tether
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tether.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The pod security settings both components share. */}}
{{- define "tether.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "tether.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{- define "tether.volumeMounts" -}}
- name: cache
  mountPath: /var/cache/tether
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "tether.volumes" -}}
- name: cache
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end }}
