package pluginpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the code with generate.sh into a
// temporary directory and fails when the committed files differ. It is
// skipped when protoc is not installed.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc not installed (apt-get install protobuf-compiler); scripts/check-proto.sh runs in CI")
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "./generate.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("generate.sh: %v\n%s", err, b)
	}
	for _, name := range []string{"plugin.pb.go", "plugin_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run make proto (sdk/proto/generate.sh)", name)
		}
	}
}
