package pluginhost

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEPolicies parses every hcl block in the plugin READMEs and
// validates their plugin blocks against the plugins' real schemas, so the
// docs cannot drift from the code.
func TestREADMEPolicies(t *testing.T) {
	fence := regexp.MustCompile("(?s)```hcl\n(.*?)```")
	for _, path := range []string{"../../plugins/noop/README.md", "../../examples/greeter-plugin/README.md"} {
		t.Run(path, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			blocks := fence.FindAllStringSubmatch(string(b), -1)
			if len(blocks) == 0 {
				t.Fatal("no hcl examples")
			}
			m, _, _ := newManager(t, nil)
			for _, blk := range blocks {
				src := blk[1]
				plugins := parsePluginsFile(t, path, src)
				for _, p := range plugins {
					p.SHA256 = "" // placeholders in docs
				}
				if diags := m.Validate(plugins); diags.HasErrors() {
					t.Errorf("%s:\n%s\n%s", path, src, diags)
				}
				if strings.Contains(src, "plugin \"") && len(plugins) == 0 {
					t.Errorf("plugin block not found in:\n%s", src)
				}
			}
		})
	}
}
