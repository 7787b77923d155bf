package sdk

import (
	"fmt"
	"regexp"
)

// Manifest describes a plugin binary; `heady-plugin-NAME --describe` prints
// it as JSON.
type Manifest struct {
	Name            string          `json:"name"`
	Version         string          `json:"version"`
	Description     string          `json:"description,omitempty"`
	SDKVersion      string          `json:"sdk_version"`
	ProtocolVersion int             `json:"protocol_version"`
	Components      []ComponentInfo `json:"components"`
}

// ComponentInfo describes one component of a plugin.
type ComponentInfo struct {
	Name        string `json:"name"`
	Kind        Kind   `json:"kind"`
	Description string `json:"description,omitempty"`
	Config      Schema `json:"config"`
	Inputs      Schema `json:"inputs,omitzero"`
	Outputs     Schema `json:"outputs,omitzero"`
}

// Component returns the named component.
func (m Manifest) Component(name string) (ComponentInfo, bool) {
	for _, c := range m.Components {
		if c.Name == name {
			return c, true
		}
	}
	return ComponentInfo{}, false
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate checks that the manifest is well formed: a plugin name, a
// semantic version, components with unique names of a known kind, and
// well-formed schemas.
func (m Manifest) Validate() error {
	if !nameRE.MatchString(m.Name) {
		return fmt.Errorf("manifest: plugin name %q must match %s", m.Name, nameRE)
	}
	if _, err := semverMajor(m.Version); err != nil {
		return fmt.Errorf("manifest: version: %w", err)
	}
	if _, err := semverMajor(m.SDKVersion); err != nil {
		return fmt.Errorf("manifest: sdk_version: %w", err)
	}
	if len(m.Components) == 0 {
		return fmt.Errorf("manifest: plugin %s serves no components", m.Name)
	}
	seen := map[string]bool{}
	for _, c := range m.Components {
		if !nameRE.MatchString(c.Name) {
			return fmt.Errorf("manifest: component name %q must match %s", c.Name, nameRE)
		}
		if seen[c.Name] {
			return fmt.Errorf("manifest: duplicate component %q", c.Name)
		}
		seen[c.Name] = true
		switch c.Kind {
		case KindAction, KindHealer, KindScaler, KindDiscovery:
		default:
			return fmt.Errorf("manifest: component %s: unknown kind %q", c.Name, c.Kind)
		}
		for what, s := range map[string]Schema{"config": c.Config, "inputs": c.Inputs, "outputs": c.Outputs} {
			if err := s.Validate(); err != nil {
				return fmt.Errorf("manifest: component %s: %s: %w", c.Name, what, err)
			}
		}
	}
	return nil
}
