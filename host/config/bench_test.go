package config

import (
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func BenchmarkLoadDefaultPolicies(b *testing.B) {
	dir := filepath.Join("..", "..", "policies")
	for i := 0; i < b.N; i++ {
		if _, diags := Load(dir, LoadOptions{Env: noEnv}); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// BenchmarkStepInput measures what the workflow engine pays per step to
// evaluate a typical input expression.
func BenchmarkStepInput(b *testing.B) {
	p, diags := Load(filepath.Join("..", "..", "policies"), LoadOptions{Env: noEnv})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	var expr = p.Workflows[4].Steps[1].Input["json"]
	extra := map[string]cty.Value{
		"event": cty.ObjectVal(map[string]cty.Value{"data": cty.ObjectVal(map[string]cty.Value{"user_id": cty.StringVal("u1")})}),
		"step": cty.ObjectVal(map[string]cty.Value{"create_workspace": cty.ObjectVal(map[string]cty.Value{
			"output": cty.ObjectVal(map[string]cty.Value{"json": cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal("w1")})})})}),
	}
	vars := p.Vars()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, d := expr.Value(EvalContext(vars, extra))
		if d.HasErrors() || v.IsNull() {
			b.Fatal(d)
		}
	}
}
