package sdk

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"
)

// Version is the semantic version of this SDK. A host refuses a plugin
// built against an SDK with a different major version.
const Version = "1.0.0"

// ProtocolVersion is the go-plugin protocol version negotiated in the
// handshake. It changes only with incompatible wire changes.
const ProtocolVersion = 1

// Handshake is the go-plugin handshake shared by the host and plugins.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "HEADY_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "5b0e6c1f-heady-plugin-7d2a9f41",
}

// PluginMapKey is the name under which the plugin is dispensed.
const PluginMapKey = "heady"

// CheckCompatible reports whether a plugin built against SDK version
// pluginSDK can be used by a host built against SDK version hostSDK: the
// major versions must be equal (semantic versioning).
func CheckCompatible(hostSDK, pluginSDK string) error {
	hm, err := semverMajor(hostSDK)
	if err != nil {
		return fmt.Errorf("host sdk version: %w", err)
	}
	pm, err := semverMajor(pluginSDK)
	if err != nil {
		return fmt.Errorf("plugin sdk version: %w", err)
	}
	if hm != pm {
		return fmt.Errorf("plugin built with sdk %s is incompatible with host sdk %s (major version %d != %d)", pluginSDK, hostSDK, pm, hm)
	}
	return nil
}

func semverMajor(v string) (int, error) {
	s := strings.TrimPrefix(strings.TrimSpace(v), "v")
	if s == "" {
		return 0, fmt.Errorf("empty version")
	}
	core, _, _ := strings.Cut(s, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a semantic version (MAJOR.MINOR.PATCH)", v)
	}
	var major int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a semantic version (MAJOR.MINOR.PATCH)", v)
		}
		if i == 0 {
			major = n
		}
	}
	return major, nil
}
