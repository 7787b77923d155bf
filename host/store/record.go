package store

import (
	"encoding/json"
	"fmt"
)

// recordVersion is the current encoding version: one version byte followed
// by a JSON document. A future encoding bumps the byte and Decode keeps
// reading the old one.
const recordVersion byte = 1

// Encode serialises v as a versioned record.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode record: %w", err)
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, recordVersion)
	return append(out, b...), nil
}

// MustEncode is Encode for values that always marshal (plain structs).
func MustEncode(v any) []byte {
	b, err := Encode(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Decode reads a versioned record into v.
func Decode(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("store: decode record: empty")
	}
	switch b[0] {
	case recordVersion:
		if err := json.Unmarshal(b[1:], v); err != nil {
			return fmt.Errorf("store: decode record: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("store: decode record: unknown encoding version %d", b[0])
	}
}

// GetRecord reads and decodes one record.
func (s *Store) GetRecord(key string, v any) error {
	b, err := s.Get(key)
	if err != nil {
		return err
	}
	return Decode(b, v)
}
