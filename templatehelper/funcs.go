package main

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/gosimple/slug"
	"sigs.k8s.io/yaml"
)

// Functions that allocate in proportion to an argument refuse arguments past these bounds, so
// `{{ repeat 1000000000 "x" }}` is a one-line error naming its template rather than a helper
// killed by its memory limit. Sane templates never come near them.
const (
	maxAllocBytes = 16 << 20
	maxListItems  = 1 << 20
)

// funcs is what templates may call: Sprig's generic functions as Argo CD's ApplicationSet
// controller offers them, plus its own additions, plus the bounds above.
var funcs = buildFuncs()

func buildFuncs() template.FuncMap {
	m := sprig.TxtFuncMap()
	// Argo CD removes these so a template cannot learn about the controller's environment or
	// reach the network; tether's helper has a bare environment anyway, but the names must be
	// unknown, as they are to Argo CD (a parse error, not an empty string).
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		delete(m, name)
	}
	m["normalize"] = normalize
	m["slugify"] = slugify
	m["toYaml"] = toYAML
	m["fromYaml"] = fromYAML
	m["fromYamlArray"] = fromYAMLArray
	bound(m)
	return m
}

// bound wraps the allocating functions with checks, then calls Sprig's own.
func bound(m template.FuncMap) {
	repeat := m["repeat"].(func(int, string) string)
	m["repeat"] = func(count int, str string) (string, error) {
		if count > 0 && len(str) > 0 && count > maxAllocBytes/len(str) {
			return "", fmt.Errorf("repeat would make %d×%d bytes, more than %d", count, len(str), maxAllocBytes)
		}
		return repeat(count, str), nil
	}
	untilStep := m["untilStep"].(func(int, int, int) []int)
	m["untilStep"] = func(start, stop, step int) ([]int, error) {
		if err := checkRange(start, stop, step); err != nil {
			return nil, err
		}
		return untilStep(start, stop, step), nil
	}
	until := m["until"].(func(int) []int)
	m["until"] = func(count int) ([]int, error) {
		if err := checkRange(0, count, 1); err != nil {
			return nil, err
		}
		return until(count), nil
	}
	seq := m["seq"].(func(...int) string)
	m["seq"] = func(params ...int) (string, error) {
		if err := checkSeq(params); err != nil {
			return "", err
		}
		return seq(params...), nil
	}
	for _, name := range []string{"indent", "nindent"} {
		indent := m[name].(func(int, string) string)
		m[name] = func(spaces int, v string) (string, error) {
			lines := strings.Count(v, "\n") + 1
			if spaces > 0 && spaces > (maxAllocBytes-len(v))/lines {
				return "", fmt.Errorf("%s would make more than %d bytes", name, maxAllocBytes)
			}
			return indent(spaces, v), nil
		}
	}
	for _, name := range []string{"randAlphaNum", "randAlpha", "randNumeric", "randAscii"} {
		random := m[name].(func(int) string)
		m[name] = func(count int) (string, error) {
			if count > maxAllocBytes {
				return "", fmt.Errorf("%s of %d characters is more than %d", name, count, maxAllocBytes)
			}
			return random(count), nil
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func checkRange(start, stop, step int) error {
	if step == 0 {
		return nil // Sprig returns an empty list
	}
	if items := abs(stop-start) / abs(step); items > maxListItems {
		return fmt.Errorf("a range of %d items is more than %d", items, maxListItems)
	}
	return nil
}

func checkSeq(params []int) error {
	switch len(params) {
	case 1:
		return checkRange(1, params[0], 1)
	case 2:
		return checkRange(params[0], params[1], 1)
	case 3:
		return checkRange(params[0], params[2], params[1])
	}
	return nil
}

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// normalize makes a string a DNS subdomain name as Argo CD's SanitizeName does: lower case,
// anything but [-a-z0-9.] replaced by '-', at most 253 bytes, no leading or trailing '-' or '.'.
func normalize(name string) string {
	name = invalidDNSNameChars.ReplaceAllString(strings.ToLower(name), "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

// slugify takes Argo CD's optional arguments: [maxLength [smartTruncate]] name, with defaults
// 50 and true; the name is normalized first, then made a slug.
func slugify(args ...any) (string, error) {
	maxLength, smart, name := 50, true, ""
	for i, arg := range args {
		var ok bool
		switch i {
		case len(args) - 1:
			name, ok = arg.(string)
		case 0:
			maxLength, ok = arg.(int)
		case 1:
			smart, ok = arg.(bool)
		default:
			return "", fmt.Errorf("slugify takes at most three arguments")
		}
		if !ok {
			return "", fmt.Errorf("slugify: argument %d has the wrong type (%T)", i+1, arg)
		}
	}
	slug.MaxLength = maxLength
	slug.EnableSmartTruncate = smart
	slug.CustomSub = nil
	return slug.Make(normalize(name)), nil
}

func toYAML(v any) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(text string) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(text), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func fromYAMLArray(text string) ([]any, error) {
	a := []any{}
	if err := yaml.Unmarshal([]byte(text), &a); err != nil {
		return nil, err
	}
	return a, nil
}
