package pluginhost

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/sdk"
)

// HealerComponent maps a heal block's strategy to its component: built-in
// strategies live in the heal plugin ("restart" → "heal.restart").
func HealerComponent(strategy string) string { return qualify("heal", strategy) }

// ScalerComponent maps a scaling backend to its component: built-in
// backends live in the scale plugin ("process_pool" → "scale.process_pool").
func ScalerComponent(backend string) string { return qualify("scale", backend) }

func qualify(plugin, name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return plugin + "." + name
}

// ValidateUses decodes the blocks that configure a plugin component where a
// policy uses it — heal blocks against their healer's inputs, scaling
// backend blocks against their scaler's — so that a typo there is reported
// with its FILE:LINE:COL before anything runs. A component that is not
// installed is a warning: the policy may be validated without plugins.
func (m *Manager) ValidateUses(p *config.Policy) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ectx := p.EvalContext(nil)
	check := func(name string, kind sdk.Kind, body hcl.Body, rng hcl.Range, what string) {
		info, ok := m.Component(name)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Component not installed",
				Detail: fmt.Sprintf("%s uses %s, which no plugin in the plugin directories serves; its options are not checked.", what, name), Subject: rng.Ptr()})
			return
		}
		if info.Kind != kind {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Wrong kind of component",
				Detail: fmt.Sprintf("%s uses %s, which is a %s, not a %s.", what, name, info.Kind, kind), Subject: rng.Ptr()})
			return
		}
		if body != nil {
			_, ds := DecodeConfig(body, info.Inputs, ectx)
			diags = append(diags, ds...)
		}
	}
	for _, c := range p.Checks {
		for _, hs := range c.Heal {
			check(HealerComponent(hs.Strategy), sdk.KindHealer, hs.Options, hs.DeclRange, fmt.Sprintf("check %q heal %q", c.Name, hs.Strategy))
		}
	}
	for _, s := range p.Scaling {
		if s.Backend == "" {
			continue
		}
		check(ScalerComponent(s.Backend), sdk.KindScaler, s.BackendConfig, s.DeclRange, fmt.Sprintf("scaling %q backend %q", s.Name, s.Backend))
	}
	return diags
}
