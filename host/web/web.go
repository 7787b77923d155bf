// Package web is Heady's dashboard: a single-page application of plain
// JavaScript modules, CSS and hand-drawn SVG, embedded in the binary and
// served on the API's own listener. It uses only the public REST API
// (with the bearer token kept in the browser's sessionStorage, never in a
// URL) and the live stream of GET /api/v1/automation/stream.
//
// Assets are served under /ui/<content hash>/ with immutable cache headers,
// so a new build never mixes with a cached old one; the index at / is
// revalidated on every load. The package also holds Hub, the bounded
// fan-out behind the live stream.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed static
var static embed.FS

// asset is one prepared file.
type asset struct {
	body, gz []byte
	ctype    string
	etag     string
}

// Dashboard serves the embedded assets.
type Dashboard struct {
	version string
	index   asset
	assets  map[string]asset // by path below static/, "app.js"
}

// contentSecurityPolicy allows nothing but this host.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// New prepares the embedded assets: content hash, ETags, gzip.
func New() (*Dashboard, error) {
	d := &Dashboard{assets: map[string]asset{}}
	root, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w", err)
	}
	var names []string
	err = fs.WalkDir(root, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w", err)
	}
	sort.Strings(names)
	all := sha256.New()
	raw := map[string][]byte{}
	for _, n := range names {
		b, err := fs.ReadFile(root, n)
		if err != nil {
			return nil, fmt.Errorf("web: read %s: %w", n, err)
		}
		raw[n] = b
		fmt.Fprintf(all, "%s\x00%d\x00", n, len(b))
		all.Write(b)
	}
	d.version = hex.EncodeToString(all.Sum(nil))[:12]
	for n, b := range raw {
		if n == "index.html" {
			b = bytes.ReplaceAll(b, []byte("{{BASE}}"), []byte(d.Base()))
			d.index = prepare(n, b)
			continue
		}
		d.assets[n] = prepare(n, b)
	}
	if d.index.body == nil {
		return nil, fmt.Errorf("web: assets: index.html is missing")
	}
	return d, nil
}

func prepare(name string, b []byte) asset {
	sum := sha256.Sum256(b)
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	a := asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	if len(b) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// Version is the content hash of the embedded assets.
func (d *Dashboard) Version() string { return d.version }

// Base is the path prefix of the current assets ("/ui/<hash>/").
func (d *Dashboard) Base() string { return "/ui/" + d.version + "/" }

// Assets lists the embedded asset paths (without index.html).
func (d *Dashboard) Assets() []string {
	out := make([]string, 0, len(d.assets))
	for n := range d.assets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Mount registers GET / (the index) and GET /ui/* (the assets) on app.
func (d *Dashboard) Mount(app *fiber.App) {
	app.Get("/", d.serveIndex)
	app.Get("/index.html", d.serveIndex)
	app.Get("/ui/*", d.serveAsset)
}

func (d *Dashboard) serveIndex(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return d.send(c, d.index)
}

// serveAsset answers /ui/<hash>/<file> (immutable when the hash is the
// current one) and /ui/<file> (revalidated by ETag).
func (d *Dashboard) serveAsset(c *fiber.Ctx) error {
	p := c.Params("*")
	immutable := false
	if v, rest, ok := strings.Cut(p, "/"); ok && len(v) == 12 && isHex(v) {
		p = rest
		immutable = v == d.version
	}
	a, ok := d.assets[p]
	if !ok {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"error": fiber.Map{"code": "not_found", "message": fmt.Sprintf("no dashboard asset %q", p)}})
	}
	if immutable {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return d.send(c, a)
}

func (d *Dashboard) send(c *fiber.Ctx, a asset) error {
	c.Set(fiber.HeaderETag, a.etag)
	c.Set(fiber.HeaderContentType, a.ctype)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && strings.Contains(match, a.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	if a.gz != nil && strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(a.gz)
	}
	return c.Send(a.body)
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
