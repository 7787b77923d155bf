package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// LoadOptions tunes Load and LoadFiles.
type LoadOptions struct {
	// Vars overrides the defaults of declared variables (var.NAME). A value
	// for an undeclared variable is an error.
	Vars map[string]cty.Value
	// Env looks up environment variables for env(); os.LookupEnv when nil.
	Env func(string) (string, bool)
}

// Load reads every *.hcl file directly inside dir (sorted by name, not
// recursive) and loads them as one policy set. It returns every diagnostic
// found, sorted by file and position. When the diagnostics contain an error
// the Policy is nil. An empty directory is a valid, empty set; a missing
// directory is an error.
func Load(dir string, opts LoadOptions) (*Policy, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read policy directory",
			Detail:   fmt.Sprintf("config: read policies %s: %v", dir, err),
		}}
	}
	var files []SourceFile
	var diags hcl.Diagnostics
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read policy file",
				Detail:   fmt.Sprintf("config: read %s: %v", path, err),
			})
			continue
		}
		files = append(files, SourceFile{Path: path, Bytes: b})
	}
	p, more := load(files, opts, diags)
	if p != nil {
		p.Dir = dir
	}
	return p, more
}

// LoadFiles loads an in-memory policy set; each file's Path names it in
// diagnostics. Files are processed in Path order.
func LoadFiles(files []SourceFile, opts LoadOptions) (*Policy, hcl.Diagnostics) {
	return load(append([]SourceFile(nil), files...), opts, nil)
}

// version hashes the set: sorted (base name, content) pairs, so the same
// files give the same version wherever the directory is.
func version(files []SourceFile) string {
	h := sha256.New()
	type pair struct {
		name string
		hash string
	}
	pairs := make([]pair, len(files))
	for i, f := range files {
		pairs[i] = pair{filepath.Base(f.Path), f.Hash}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].name < pairs[j].name })
	for _, p := range pairs {
		fmt.Fprintf(h, "%d:%s\x00%s\n", len(p.name), p.name, p.hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loader carries the state of one load.
type loader struct {
	opts  LoadOptions
	p     *Policy
	diags hcl.Diagnostics
	ctx   *hcl.EvalContext
	// incomplete is set when a file could not be parsed: references to
	// names that may live in that file are then not reported.
	incomplete bool
	vars       map[string]cty.Value
	first      map[string]map[string]hcl.Range
	healRefs   []healRef
	ranges     map[rangeKey]hcl.Range
}

func load(files []SourceFile, opts LoadOptions, diags hcl.Diagnostics) (*Policy, hcl.Diagnostics) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i := range files {
		sum := sha256.Sum256(files[i].Bytes)
		files[i].Hash = hex.EncodeToString(sum[:])
	}
	l := &loader{
		opts:   opts,
		diags:  diags,
		first:  map[string]map[string]hcl.Range{},
		ranges: map[rangeKey]hcl.Range{},
		p: &Policy{
			Files:     files,
			Version:   version(files),
			Variables: map[string]*Variable{},
		},
	}
	parser := hclparse.NewParser()
	var all hcl.Blocks
	for _, f := range files {
		file, d := parser.ParseHCL(f.Bytes, f.Path)
		l.diags = append(l.diags, d...)
		if d.HasErrors() || file == nil {
			l.incomplete = true
			continue
		}
		content, d := file.Body.Content(topSchema)
		l.diags = append(l.diags, suggestAliases(d)...)
		all = append(all, content.Blocks...)
	}

	// Variables first: every other block may refer to var.*.
	for _, b := range all {
		if b.Type == "variable" {
			l.variable(b)
		}
	}
	l.resolveVars()
	l.ctx = evalContext(l.vars, nil, opts.Env)

	l.p.Host = defaultHost()
	l.p.Auth = defaultAuth()
	l.p.Cluster = defaultCluster()
	for _, b := range all {
		switch b.Type {
		case "host":
			if l.single("host", b) {
				l.host(b)
			}
		case "auth":
			if l.single("auth", b) {
				l.auth(b)
			}
		case "cluster":
			if l.single("cluster", b) {
				l.cluster(b)
			}
		case "plugin":
			if pl := l.plugin(b); l.unique("plugin", pl.Name, b.DefRange) {
				l.p.Plugins = append(l.p.Plugins, pl)
			}
		case "workflow":
			if w := l.workflow(b); l.unique("workflow", w.Name, b.DefRange) {
				l.p.Workflows = append(l.p.Workflows, w)
			}
		case "check":
			if c := l.check(b); l.unique("check", c.Name, b.DefRange) {
				l.p.Checks = append(l.p.Checks, c)
			}
		case "service":
			if s := l.service(b); l.unique("service", s.Name, b.DefRange) {
				l.p.Services = append(l.p.Services, s)
			}
		case "scaling":
			if s := l.scaling(b); l.unique("scaling", s.Name, b.DefRange) {
				l.p.Scaling = append(l.p.Scaling, s)
			}
		case "discovery":
			if d := l.discovery(b); l.unique("discovery", d.Name, b.DefRange) {
				l.p.Discovery = append(l.p.Discovery, d)
			}
		case "webhook":
			if w := l.webhook(b); l.unique("webhook", w.Name, b.DefRange) {
				l.p.Webhooks = append(l.p.Webhooks, w)
			}
		case "alert":
			if n := l.alert(b); l.unique("alert", n.Name, b.DefRange) {
				l.p.Alerts = append(l.p.Alerts, n)
			}
		}
	}
	l.crossCheck()

	sortDiagnostics(l.diags)
	if l.diags.HasErrors() {
		return nil, l.diags
	}
	return l.p, l.diags
}

// blockAliases maps block types people reach for to the ones that exist,
// for suggestions edit distance cannot make.
var blockAliases = map[string]string{
	"health": "check", "healthcheck": "check", "health_check": "check", "monitor": "check",
	"job": "workflow", "schedule": "workflow", "cron": "workflow", "pipeline": "workflow",
	"autoscale": "scaling", "autoscaler": "scaling", "scaler": "scaling",
	"hook": "webhook", "notify": "alert", "notifier": "alert",
	"var": "variable", "variables": "variable",
	"process": "service", "daemon": "service", "scan": "discovery",
	"server": "host", "settings": "host", "config": "host",
}

var unsupportedBlockRe = regexp.MustCompile(`^Blocks of type "([^"]+)" are not expected here\.$`)

// suggestAliases adds a suggestion to top-level "Unsupported block type"
// diagnostics that have none.
func suggestAliases(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		if d.Summary != "Unsupported block type" {
			continue
		}
		m := unsupportedBlockRe.FindStringSubmatch(d.Detail)
		if m == nil {
			continue
		}
		if alias, ok := blockAliases[strings.ToLower(m[1])]; ok {
			d.Detail += fmt.Sprintf(" Did you mean %q?", alias)
		}
	}
	return diags
}

// unique records the first definition of kind/name and reports later ones.
func (l *loader) unique(kind, name string, rng hcl.Range) bool {
	m := l.first[kind]
	if m == nil {
		m = map[string]hcl.Range{}
		l.first[kind] = m
	}
	if prev, ok := m[name]; ok {
		l.diags = append(l.diags, duplicate(kind, name, prev, rng))
		return false
	}
	m[name] = rng
	return true
}

func duplicate(kind, name string, prev, rng hcl.Range) *hcl.Diagnostic {
	what := fmt.Sprintf("%s %q", kind, name)
	if name == "" {
		what = kind + " block"
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what,
		Detail:   fmt.Sprintf("The %s is also defined at %s:%d; %s.", what, prev.Filename, prev.Start.Line, uniqueScope(kind)),
		Subject:  rng.Ptr(),
	}
}

func uniqueScope(kind string) string {
	switch kind {
	case "step":
		return "step names must be unique within a workflow (on_failure steps included)"
	case "metric":
		return "metric names must be unique within a scaling policy"
	case "component":
		return "component names must be unique within a plugin"
	}
	return "names must be unique across all policy files"
}

// single allows at most one block of kind across all files.
func (l *loader) single(kind string, b *hcl.Block) bool {
	if prev, ok := l.first[kind][""]; ok {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate " + kind + " block",
			Detail:   fmt.Sprintf("Only one %s block is allowed; another is defined at %s:%d.", kind, prev.Filename, prev.Start.Line),
			Subject:  b.DefRange.Ptr(),
		})
		return false
	}
	return l.unique(kind, "", b.DefRange)
}

func (l *loader) variable(b *hcl.Block) {
	content, d := b.Body.Content(variableSchema)
	l.diags = append(l.diags, d...)
	v := &Variable{Name: b.Labels[0], DeclRange: b.DefRange, Default: cty.NilVal}
	l.checkName("variable", b)
	a := l.attrs(content, b, evalContext(nil, nil, l.opts.Env))
	a.str("description", &v.Description)
	if at, ok := content.Attributes["default"]; ok {
		val, d := at.Expr.Value(a.ctx)
		l.diags = append(l.diags, d...)
		v.Default = val
		if d.HasErrors() {
			// Already reported; do not report the variable as unset too.
			v.Default = cty.DynamicVal
		}
	}
	if l.unique("variable", v.Name, b.DefRange) {
		l.p.Variables[v.Name] = v
	}
}

func (l *loader) resolveVars() {
	l.vars = map[string]cty.Value{}
	names := make([]string, 0, len(l.opts.Vars))
	for n := range l.opts.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := l.p.Variables[n]; !ok && !l.incomplete {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Undeclared variable",
				Detail:   fmt.Sprintf("A value was given for variable %q, but no variable block declares it.%s", n, suggest(n, keys(l.p.Variables))),
			})
		}
	}
	for name, v := range l.p.Variables {
		val := v.Default
		if o, ok := l.opts.Vars[name]; ok {
			val = o
			if v.Default != cty.NilVal && !v.Default.IsNull() && v.Default.Type() != cty.DynamicPseudoType {
				cv, err := convert.Convert(o, v.Default.Type())
				if err != nil {
					l.diags = append(l.diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid value for variable",
						Detail:   fmt.Sprintf("The value given for variable %q does not match the type of its default: %v.", name, err),
						Subject:  v.DeclRange.Ptr(),
					})
					val = cty.DynamicVal
				} else {
					val = cv
				}
			}
		}
		if val == cty.NilVal {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("Variable %q has no default; give it one or set a value when loading.", name),
				Subject:  v.DeclRange.Ptr(),
			})
			val = cty.DynamicVal
		}
		v.Value = val
		l.vars[name] = val
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (l *loader) attrs(content *hcl.BodyContent, b *hcl.Block, ctx *hcl.EvalContext) *attrs {
	if ctx == nil {
		ctx = l.ctx
	}
	return &attrs{list: content.Attributes, ctx: ctx, block: b.DefRange, diags: &l.diags, incomplete: l.incomplete}
}

// Vars returns the effective variable values (defaults with overrides).
func (p *Policy) Vars() map[string]cty.Value {
	out := make(map[string]cty.Value, len(p.Variables))
	for n, v := range p.Variables {
		out[n] = v.Value
	}
	return out
}

// EvalContext returns the context for evaluating expressions of this set at
// runtime: var.*, the functions, and extra (event, step, each, ...).
func (p *Policy) EvalContext(extra map[string]cty.Value) *hcl.EvalContext {
	return EvalContext(p.Vars(), extra)
}

// sortDiagnostics orders diagnostics by file and position; those without a
// source range come first, in the order they were found.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil && b == nil:
			return false
		case a == nil:
			return true
		case b == nil:
			return false
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Start.Byte != b.Start.Byte {
			return a.Start.Byte < b.Start.Byte
		}
		return a.End.Byte < b.End.Byte
	})
}
