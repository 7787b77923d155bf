// Package audit is Heady's tamper-evident audit trail.
//
// Every API request and every automated action is recorded as an Entry.
// Entries are numbered densely (Seq), stamped with a time-ordered ID and
// hash-chained: each entry's Hash is SHA-256 over a canonical encoding of all
// its other fields, including the previous entry's hash. Verify walks the
// chain and reports the first entry that was altered or removed.
//
// Appends from many goroutines are sequenced by one goroutine, which commits
// a whole batch (entries, index keys and the chain head) in a single
// store.Apply call; Append returns only once its batch is committed, so a
// response sent after Append can never lose its entry.
//
// Key layout (all under store.SpaceAudit unless noted):
//
//	audit/e/<seq:20>                       entry record
//	audit/r/<type>/<id>/<seq:20>           resource index (empty value)
//	audit/a/<actor>/<seq:20>               actor index (empty value)
//	audit/s/<seq:20>                       security-event index (empty value)
//	meta/audit/head                        {seq, hash} of the last entry
//	meta/audit/anchor                      {seq, hash} of the last pruned entry
//
// Path segments are escaped with url.PathEscape, so ids containing "/" stay
// unambiguous.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Actor kinds.
const (
	ActorToken     = "token"
	ActorSystem    = "system"
	ActorAnonymous = "anonymous"
	ActorPlugin    = "plugin"
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)

// Entry is one audit record.
type Entry struct {
	// Seq is the dense position in the chain, assigned by the log.
	Seq uint64 `json:"seq"`
	// ID is a ULID assigned by the log; IDs sort in Seq order.
	ID string `json:"id"`
	// Time is stamped by the log when the entry is sequenced; it never
	// decreases along the chain.
	Time time.Time `json:"time"`
	// Actor is a token name or a system component ("workflow", "healing").
	Actor string `json:"actor"`
	// ActorKind is one of ActorToken, ActorSystem, ActorAnonymous, ActorPlugin.
	ActorKind string `json:"actor_kind"`
	// Action is dotted: "api.request", "workflow.execute", "policy.reload".
	Action       string `json:"action"`
	ResourceType string `json:"resource_type,omitempty"`
	ResourceID   string `json:"resource_id,omitempty"`
	// Source is the remote address of a request, empty for system actions.
	Source string `json:"source,omitempty"`
	// Outcome is one of OutcomeSuccess, OutcomeFailure, OutcomeDenied, OutcomeError.
	Outcome   string `json:"outcome"`
	Security  bool   `json:"security,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Details is free-form. Numbers come back as json.Number after a read.
	Details  map[string]any `json:"details,omitempty"`
	PrevHash string         `json:"prev_hash"`
	Hash     string         `json:"hash"`
}

// hashView is the canonical, ordered form that is hashed. Field order is
// fixed by the struct; maps are sorted by encoding/json; time is an integer.
type hashView struct {
	V            int             `json:"v"`
	Seq          uint64          `json:"seq"`
	ID           string          `json:"id"`
	Time         int64           `json:"time_unix_nano"`
	Actor        string          `json:"actor"`
	ActorKind    string          `json:"actor_kind"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	Source       string          `json:"source"`
	Outcome      string          `json:"outcome"`
	Security     bool            `json:"security"`
	RequestID    string          `json:"request_id"`
	Details      json.RawMessage `json:"details"`
	PrevHash     string          `json:"prev_hash"`
}

// computeHash returns the hex SHA-256 of the canonical encoding of e
// (every field but Hash).
func computeHash(e *Entry) (string, error) {
	details, err := detailsJSON(e.Details)
	if err != nil {
		return "", err
	}
	return hashWith(e, details)
}

// detailsJSON is the canonical encoding of a (normalized) Details map.
func detailsJSON(d map[string]any) (json.RawMessage, error) {
	if len(d) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("audit: encode details: %w", err)
	}
	return b, nil
}

// hashWith is computeHash with the details already encoded.
func hashWith(e *Entry, details json.RawMessage) (string, error) {
	if details == nil {
		details = json.RawMessage("null")
	}
	b, err := json.Marshal(hashView{
		V: 1, Seq: e.Seq, ID: e.ID, Time: e.Time.UnixNano(), Actor: e.Actor, ActorKind: e.ActorKind,
		Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID, Source: e.Source,
		Outcome: e.Outcome, Security: e.Security, RequestID: e.RequestID, Details: details, PrevHash: e.PrevHash,
	})
	if err != nil {
		return "", fmt.Errorf("audit: encode entry: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// normalize makes e round-trip stable through its stored JSON form, so the
// hash computed at append time is the hash recomputed at verify time:
// strings become valid UTF-8 and Details is passed through JSON once
// (numbers become json.Number, structs become maps).
func normalize(e *Entry) error {
	for _, s := range []*string{&e.Actor, &e.ActorKind, &e.Action, &e.ResourceType, &e.ResourceID,
		&e.Source, &e.Outcome, &e.RequestID} {
		if !utf8.ValidString(*s) {
			*s = strings.ToValidUTF8(*s, "\uFFFD")
		}
	}
	if len(e.Details) == 0 {
		e.Details = nil
		return nil
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("audit: details: %w", err)
	}
	var m map[string]any
	if err := decodeJSON(b, &m); err != nil {
		return fmt.Errorf("audit: details: %w", err)
	}
	e.Details = m
	return nil
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// recordVersion matches store's versioned-record framing (one version byte,
// then JSON); entries are decoded here with UseNumber so that numbers in
// Details keep their exact text.
const recordVersion byte = 1

// storedEntry is Entry with its details already encoded; it marshals to
// the same JSON document as Entry.
type storedEntry struct {
	Seq          uint64          `json:"seq"`
	ID           string          `json:"id"`
	Time         time.Time       `json:"time"`
	Actor        string          `json:"actor"`
	ActorKind    string          `json:"actor_kind"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type,omitempty"`
	ResourceID   string          `json:"resource_id,omitempty"`
	Source       string          `json:"source,omitempty"`
	Outcome      string          `json:"outcome"`
	Security     bool            `json:"security,omitempty"`
	RequestID    string          `json:"request_id,omitempty"`
	Details      json.RawMessage `json:"details,omitempty"`
	PrevHash     string          `json:"prev_hash"`
	Hash         string          `json:"hash"`
}

func encodeEntry(e *Entry) ([]byte, error) {
	details, err := detailsJSON(e.Details)
	if err != nil {
		return nil, err
	}
	return encodeWith(e, details)
}

func encodeWith(e *Entry, details json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(storedEntry{Seq: e.Seq, ID: e.ID, Time: e.Time, Actor: e.Actor, ActorKind: e.ActorKind,
		Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID, Source: e.Source, Outcome: e.Outcome,
		Security: e.Security, RequestID: e.RequestID, Details: details, PrevHash: e.PrevHash, Hash: e.Hash})
	if err != nil {
		return nil, fmt.Errorf("audit: encode entry %d: %w", e.Seq, err)
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, recordVersion)
	return append(out, b...), nil
}

func decodeEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) == 0 {
		return e, fmt.Errorf("audit: decode entry: empty record")
	}
	if b[0] != recordVersion {
		return e, fmt.Errorf("audit: decode entry: unknown encoding version %d", b[0])
	}
	if err := decodeJSON(b[1:], &e); err != nil {
		return e, fmt.Errorf("audit: decode entry: %w", err)
	}
	return e, nil
}
