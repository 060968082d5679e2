// Command tether-render-helper runs `kustomize build` in-process, over and over, for one parent.
//
// Spawning the kustomize binary for every render costs a process start, a Go runtime start and a
// fresh parse of kustomize's built-in OpenAPI schema each time; at controller start-up, with
// hundreds of applications, that dominates. This helper links the same kustomize release
// (tools.env's KUSTOMIZE_VERSION; build.sh checks go.mod against it) and serves builds read from
// stdin, one JSON request per line, answering each with one JSON line on stdout:
//
//	{"id": 1, "dir": "/abs/dir", "loadRestrictor": "rootOnly", "maxBytes": 67108864}
//	{"id": 1, "yaml": "apiVersion: v1\n..."}
//	{"id": 1, "error": "...", "code": "failed"}
//
// The output is byte for byte what `kustomize build DIR` prints: the options below are the ones
// the CLI derives from its default flags. Everything tether's sandbox needs (vetting the
// kustomization graph, the private copy, the bare environment, the deadline) happens in the
// parent; the helper only replaces the exec. It exits when stdin closes.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// Reply codes: what kind of failure an error reply reports.
const (
	codeFailed     = "failed"     // kustomize returned an error, as `kustomize build` would print
	codePanic      = "panic"      // kustomize panicked; the helper recovered and lives on
	codeTooLarge   = "tooLarge"   // the output exceeded the request's maxBytes
	codeBadRequest = "badRequest" // the request line itself was unusable
)

// maxRequestBytes bounds one request line: a request is a path and a few words.
const maxRequestBytes = 1 << 20

type request struct {
	ID             int64  `json:"id"`
	Dir            string `json:"dir"`
	LoadRestrictor string `json:"loadRestrictor"`
	MaxBytes       int    `json:"maxBytes"`
}

type reply struct {
	ID    int64   `json:"id"`
	YAML  *string `json:"yaml,omitempty"` // a pointer: an empty build is "", not absent
	Error string  `json:"error,omitempty"`
	Code  string  `json:"code,omitempty"`
}

func main() {
	// Replies own the real stdout. Anything inside kustomize that prints to os.Stdout (a
	// provenance lookup does, on failure) goes to stderr instead of corrupting the protocol.
	out := bufio.NewWriter(os.Stdout)
	os.Stdout = os.Stderr
	if err := serve(os.Stdin, out); err != nil {
		fmt.Fprintf(os.Stderr, "tether-render-helper: %v\n", err)
		os.Exit(1)
	}
}

// serve answers requests until in reaches EOF.
func serve(in io.Reader, out *bufio.Writer) error {
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 64*1024), maxRequestBytes)
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false) // keeps '<', '>' and '&' one byte each on the wire
	defaultSchema := openapi.GetSchemaVersion()
	for scanner.Scan() {
		r := handle(scanner.Bytes())
		resetSchema(defaultSchema)
		if err := encoder.Encode(r); err != nil {
			return fmt.Errorf("writing a reply: %w", err)
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing a reply: %w", err)
		}
	}
	return scanner.Err()
}

// handle turns one request line into its reply.
func handle(line []byte) reply {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return reply{Error: "unreadable request: " + err.Error(), Code: codeBadRequest}
	}
	restrictions, err := loadRestrictions(req.LoadRestrictor)
	if err != nil {
		return reply{ID: req.ID, Error: err.Error(), Code: codeBadRequest}
	}
	if req.Dir == "" {
		return reply{ID: req.ID, Error: "no directory to build", Code: codeBadRequest}
	}
	yml, err := build(req.Dir, restrictions)
	var panicked *panicError
	switch {
	case errors.As(err, &panicked):
		return reply{ID: req.ID, Error: err.Error(), Code: codePanic}
	case err != nil:
		return reply{ID: req.ID, Error: err.Error(), Code: codeFailed}
	case req.MaxBytes > 0 && len(yml) > req.MaxBytes:
		return reply{ID: req.ID, Error: fmt.Sprintf("wrote %d bytes", len(yml)), Code: codeTooLarge}
	}
	text := string(yml)
	return reply{ID: req.ID, YAML: &text}
}

// loadRestrictions maps the `--load-restrictor` spellings to kustomize's values.
func loadRestrictions(name string) (types.LoadRestrictions, error) {
	switch name {
	case "", "rootOnly", types.LoadRestrictionsRootOnly.String():
		return types.LoadRestrictionsRootOnly, nil
	case "none", types.LoadRestrictionsNone.String():
		return types.LoadRestrictionsNone, nil
	}
	return types.LoadRestrictionsUnknown, fmt.Errorf("unknown loadRestrictor %q", name)
}

// options are the krusty options `kustomize build DIR` runs with when given no flags.
func options(restrictions types.LoadRestrictions) *krusty.Options {
	opts := krusty.MakeDefaultOptions()
	// MakeDefaultOptions says ReorderOptionNone, but the CLI passes "unspecified" when --reorder
	// is not given, which sorts in the legacy order unless the kustomization sets sortOptions.
	opts.Reorder = krusty.ReorderOptionUnspecified
	opts.LoadRestrictions = restrictions
	opts.PluginConfig.HelmConfig.Enabled = false // the CLI's --enable-helm default
	opts.PluginConfig.HelmConfig.Command = "helm"
	opts.AddManagedbyLabel = false // KUSTOMIZE_ENABLE_MANAGEDBY_LABEL is never in our environment
	return opts
}

type panicError struct{ value any }

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// build runs one kustomization on the real filesystem, turning a panic into an error.
func build(dir string, restrictions types.LoadRestrictions) (yml []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			yml, err = nil, &panicError{r}
		}
	}()
	resources, err := krusty.MakeKustomizer(options(restrictions)).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return resources.AsYaml()
}

// resetSchema undoes what a kustomization's `openapi` field left behind. krusty resets the
// version on every Run but keeps a custom schema (and the parse of a non-default version) in
// package state, so without this one application's schema would shape the next one's output.
// The default schema's parse is kept: re-using it is much of what makes the helper cheap.
func resetSchema(defaultSchema string) {
	if openapi.GetSchemaVersion() != defaultSchema {
		openapi.ResetOpenAPI()
	}
}
