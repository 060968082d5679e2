"""Local, real Kubernetes control planes for development, tests and the demo.

A dev cluster is the official kube-apiserver (with etcd embedded), kube-controller-manager and
kube-scheduler built from Kubernetes' own Go modules, plus kwok fake nodes so Pods are scheduled and
become Ready. Each instance lives in its own state directory, listens on loopback ports of its
own, and is driven by PID files so `down` stops exactly what `up` started.
"""
