// Command tether-template-helper evaluates ApplicationSet templates the way Argo CD does: Go's
// text/template with the Sprig function library (minus env, expandenv and getHostByName) and
// Argo CD's additions (normalize, slugify, toYaml, fromYaml, fromYamlArray).
//
// A Python re-implementation of text/template and ~200 Sprig functions would drift from the
// real thing in a thousand corners (printf verbs, map ordering in range, missingkey, whitespace
// trimming, truthiness, number formatting); this helper *is* the real thing, linked at pinned
// versions (tools.env's SPRIG_VERSION; build.sh checks go.mod against it). It serves batches
// read from stdin, one JSON request per line, answering each with one JSON line on stdout:
//
//	{"id": 1, "options": ["missingkey=error"], "params": [{"name": "a"}],
//	 "templates": [{"name": "metadata.name", "text": "{{ .name }}-app"}],
//	 "jobs": [[0, 0]], "maxBytes": 65536, "maxTotal": 67108864}
//	{"id": 1, "results": [{"o": "a-app"}]}
//	{"id": 1, "results": [{"e": "template: metadata.name:1:3: ...", "c": "exec"}]}
//
// A job is (template index, params index); templates are parsed once per distinct name, text
// and options, and kept. Jobs run in order and the first failure ends the batch (its result is
// the last one in the reply). The sandbox is shared with the parent: the parent gives the helper a
// bare environment, an empty scratch directory, its own process group and a deadline, and kills
// it on overrun. The helper adds what only it can: no function that reads the environment or
// the network exists, each output is capped while it is written, functions that allocate in
// proportion to an argument refuse absurd arguments, the process's writable memory is limited
// (RLIMIT_DATA), and the index of the job in progress is kept in a memory-mapped file, so that
// when the parent has to kill the helper (a deadline) or the helper dies (out of memory) the
// parent can still say which template was at fault. It exits when stdin closes.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"
	"text/template"
)

// Result codes: what kind of failure an error result reports.
const (
	codeParse      = "parse"      // the template does not parse
	codeExec       = "exec"       // executing it failed: a missing key, a bad type, a function error
	codeTooLarge   = "tooLarge"   // its output, or the batch's, exceeded the request's cap
	codeBadRequest = "badRequest" // the request line itself was unusable
)

const (
	maxRequestBytes = 256 << 20 // a batch carries every parameter set of one generator
	maxCachedParses = 4096
)

type templateSpec struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

type request struct {
	ID        int64          `json:"id"`
	Options   []string       `json:"options"`
	Params    []any          `json:"params"`
	Templates []templateSpec `json:"templates"`
	Jobs      [][2]int       `json:"jobs"`
	MaxBytes  int            `json:"maxBytes"`
	MaxTotal  int            `json:"maxTotal"`
}

type result struct {
	Out  *string `json:"o,omitempty"` // a pointer: an empty output is "", not absent
	Err  string  `json:"e,omitempty"`
	Code string  `json:"c,omitempty"`
}

type reply struct {
	ID      int64    `json:"id"`
	Results []result `json:"results,omitempty"`
	Error   string   `json:"error,omitempty"`
	Code    string   `json:"code,omitempty"`
}

func main() {
	progressPath := flag.String("progress", "", "file whose first 8 bytes track the job in progress")
	memoryLimit := flag.Int64("memory-limit", 0, "bytes of writable memory the helper may use")
	flag.Parse()
	if err := limitMemory(*memoryLimit); err != nil {
		fmt.Fprintf(os.Stderr, "tether-template-helper: %v\n", err)
		os.Exit(1)
	}
	progress, err := openProgress(*progressPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tether-template-helper: %v\n", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	os.Stdout = os.Stderr // nothing but replies may reach the real stdout
	if err := serve(os.Stdin, out, newEvaluator(progress)); err != nil {
		fmt.Fprintf(os.Stderr, "tether-template-helper: %v\n", err)
		os.Exit(1)
	}
}

// limitMemory caps the process's writable memory, so that a template which doubles a string
// forty times fails here instead of taking the machine with it; the soft limit makes the
// collector work harder well before the hard one is reached.
func limitMemory(limit int64) error {
	if limit <= 0 {
		return nil
	}
	debug.SetMemoryLimit(limit / 2)
	rlimit := syscall.Rlimit{Cur: uint64(limit), Max: uint64(limit)}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &rlimit); err != nil {
		return fmt.Errorf("setting RLIMIT_DATA: %w", err)
	}
	return nil
}

// progressFile is an 8-byte shared mapping: job index + 1 while a job runs, 0 between batches.
type progressFile struct{ mapped []byte }

func openProgress(path string) (*progressFile, error) {
	if path == "" {
		return &progressFile{mapped: make([]byte, 8)}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.Truncate(8); err != nil {
		return nil, err
	}
	mapped, err := syscall.Mmap(int(f.Fd()), 0, 8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return &progressFile{mapped: mapped}, nil
}

func (p *progressFile) set(job int) { binary.LittleEndian.PutUint64(p.mapped, uint64(job+1)) }
func (p *progressFile) clear()      { binary.LittleEndian.PutUint64(p.mapped, 0) }

// serve answers requests until in reaches EOF.
func serve(in io.Reader, out *bufio.Writer, ev *evaluator) error {
	reader := bufio.NewReaderSize(in, 1<<20)
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false) // keeps '<', '>' and '&' one byte each on the wire
	for {
		line, err := readLine(reader)
		if errors.Is(err, io.EOF) {
			return nil
		}
		var r reply
		if err != nil {
			r = reply{Error: err.Error(), Code: codeBadRequest}
		} else {
			r = ev.handle(line)
		}
		if err := encoder.Encode(r); err != nil {
			return fmt.Errorf("writing a reply: %w", err)
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("writing a reply: %w", err)
		}
	}
}

// readLine reads one request line of at most maxRequestBytes.
func readLine(reader *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := reader.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRequestBytes {
			return nil, fmt.Errorf("request line longer than %d bytes", maxRequestBytes)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

type evaluator struct {
	progress *progressFile
	parsed   map[string]*template.Template
	parseErr map[string]error
}

func newEvaluator(progress *progressFile) *evaluator {
	return &evaluator{progress: progress, parsed: map[string]*template.Template{}, parseErr: map[string]error{}}
}

// handle turns one request line into its reply.
func (ev *evaluator) handle(line []byte) reply {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return reply{Error: "unreadable request: " + err.Error(), Code: codeBadRequest}
	}
	if err := checkOptions(req.Options); err != nil {
		return reply{ID: req.ID, Error: err.Error(), Code: codeBadRequest}
	}
	results := make([]result, len(req.Jobs))
	total := 0
	defer ev.progress.clear()
	for i, job := range req.Jobs {
		if job[0] < 0 || job[0] >= len(req.Templates) || job[1] < 0 || job[1] >= len(req.Params) {
			return reply{ID: req.ID, Error: fmt.Sprintf("job %d refers to no template or parameters", i), Code: codeBadRequest}
		}
		ev.progress.set(i)
		results[i] = ev.run(req.Templates[job[0]], req.Options, req.Params[job[1]], req.MaxBytes)
		if results[i].Out == nil { // the first failure ends the batch: the caller stops there
			return reply{ID: req.ID, Results: results[:i+1]}
		}
		total += len(*results[i].Out)
		if req.MaxTotal > 0 && total > req.MaxTotal {
			results[i] = result{Err: fmt.Sprintf("the batch wrote more than %d bytes", req.MaxTotal), Code: codeTooLarge}
			return reply{ID: req.ID, Results: results[:i+1]}
		}
	}
	return reply{ID: req.ID, Results: results}
}

// checkOptions refuses what template.Option would panic on.
func checkOptions(options []string) error {
	for _, option := range options {
		switch option {
		case "missingkey=default", "missingkey=invalid", "missingkey=zero", "missingkey=error":
		default:
			return fmt.Errorf("unknown goTemplateOptions entry %q", option)
		}
	}
	return nil
}

// run executes one template on one parameter set, with its output capped at maxBytes.
func (ev *evaluator) run(spec templateSpec, options []string, params any, maxBytes int) result {
	tmpl, err := ev.parse(spec, options)
	if err != nil {
		return result{Err: err.Error(), Code: codeParse}
	}
	out := &cappedBuffer{max: maxBytes}
	if err := execute(tmpl, out, params); err != nil {
		if errors.Is(err, errTooLarge) {
			return result{Err: fmt.Sprintf("template: %s: wrote more than %d bytes", spec.Name, maxBytes), Code: codeTooLarge}
		}
		return result{Err: err.Error(), Code: codeExec}
	}
	text := out.String()
	return result{Out: &text}
}

// execute runs a template, turning a panic text/template did not recover into an error.
func execute(tmpl *template.Template, out io.Writer, params any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("template: %s: panic: %v", tmpl.Name(), r)
		}
	}()
	return tmpl.Execute(out, params)
}

func (ev *evaluator) parse(spec templateSpec, options []string) (*template.Template, error) {
	key := spec.Name + "\x00" + spec.Text + "\x00" + fmt.Sprint(options)
	if tmpl, ok := ev.parsed[key]; ok {
		return tmpl, nil
	}
	if err, ok := ev.parseErr[key]; ok {
		return nil, err
	}
	if len(ev.parsed)+len(ev.parseErr) >= maxCachedParses {
		ev.parsed, ev.parseErr = map[string]*template.Template{}, map[string]error{}
	}
	tmpl, err := template.New(spec.Name).Funcs(funcs).Parse(spec.Text)
	if err != nil {
		ev.parseErr[key] = err
		return nil, err
	}
	for _, option := range options {
		tmpl = tmpl.Option(option)
	}
	ev.parsed[key] = tmpl
	return tmpl, nil
}

var errTooLarge = errors.New("output too large")

// cappedBuffer refuses writes past max bytes (0: no cap), which stops the template at once.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.max > 0 && b.Len()+len(p) > b.max {
		return 0, errTooLarge
	}
	return b.Buffer.Write(p)
}
