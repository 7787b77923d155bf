package intelligence

import (
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// seq parses "a(abc)(ac)d(cf)" into a sequence.
func seq(s string) Sequence {
	var out Sequence
	for i := 0; i < len(s); i++ {
		if s[i] == '(' {
			j := strings.IndexByte(s[i:], ')') + i
			var is Itemset
			for _, c := range s[i+1 : j] {
				is = append(is, string(c))
			}
			sort.Strings(is)
			out = append(out, is)
			i = j
			continue
		}
		out = append(out, Itemset{string(s[i])})
	}
	return out
}

// pei2001 is the sequence database of Pei et al., "PrefixSpan: Mining
// Sequential Patterns Efficiently by Prefix-Projected Pattern Growth" (2001).
var pei2001 = []Sequence{seq("a(abc)(ac)d(cf)"), seq("(ad)c(bc)(ae)"), seq("(ef)(ab)(df)cb"), seq("eg(af)cbc")}

func TestPrefixSpanPublishedExample(t *testing.T) {
	got := PrefixSpan(pei2001, 2, 0)
	all := map[string]int{}
	for _, p := range got {
		all[p.Seq.String()] = p.Support
	}
	// The paper's table of patterns with prefix <a> (min_support 2).
	wantA := map[string]int{
		"<a>": 4, "<aa>": 2, "<ab>": 4, "<a(bc)>": 2, "<a(bc)a>": 2, "<aba>": 2, "<abc>": 2,
		"<(ab)>": 2, "<(ab)c>": 2, "<(ab)d>": 2, "<(ab)f>": 2, "<(ab)dc>": 2, "<ac>": 4, "<aca>": 2,
		"<acb>": 3, "<acc>": 3, "<ad>": 2, "<adc>": 2, "<af>": 2,
	}
	gotA := map[string]int{}
	for k, v := range all {
		if strings.HasPrefix(k, "<a") || strings.HasPrefix(k, "<(a") {
			gotA[k] = v
		}
	}
	if len(gotA) != len(wantA) {
		t.Errorf("patterns with prefix a: got %d %v, want %d", len(gotA), gotA, len(wantA))
	}
	for k, v := range wantA {
		if gotA[k] != v {
			t.Errorf("%s: support %d, want %d", k, gotA[k], v)
		}
	}
	// Length-1 patterns of the paper: a:4 b:4 c:4 d:3 e:3 f:3 (g is infrequent).
	for k, v := range map[string]int{"<a>": 4, "<b>": 4, "<c>": 4, "<d>": 3, "<e>": 3, "<f>": 3} {
		if all[k] != v {
			t.Errorf("%s: support %d, want %d", k, all[k], v)
		}
	}
	if _, ok := all["<g>"]; ok {
		t.Errorf("<g> has support 1 and must not be reported")
	}
	// 53 sequential patterns in total at min_support 2 (the figure SPMF
	// reports for this database at 50%).
	if len(got) != 53 {
		t.Errorf("got %d patterns, want 53", len(got))
	}
	checkAgainstBruteForce(t, pei2001, 2, got)
}

// bruteForce enumerates every sequence over the alphabet with at most
// maxItems items and counts its support directly.
func bruteForce(db []Sequence, minSup, maxItems int) map[string]int {
	alpha := map[string]bool{}
	for _, s := range db {
		for _, is := range s {
			for _, x := range is {
				alpha[x] = true
			}
		}
	}
	var letters []string
	for x := range alpha {
		letters = append(letters, x)
	}
	sort.Strings(letters)
	// every non-empty itemset (subset of letters), as a list
	var itemsets []Itemset
	for mask := 1; mask < 1<<len(letters); mask++ {
		var is Itemset
		for i, x := range letters {
			if mask&(1<<i) != 0 {
				is = append(is, x)
			}
		}
		if len(is) <= maxItems {
			itemsets = append(itemsets, is)
		}
	}
	out := map[string]int{}
	var rec func(p Sequence)
	rec = func(p Sequence) {
		for _, is := range itemsets {
			np := append(append(Sequence(nil), p...), is)
			if np.Len() > maxItems {
				continue
			}
			sup := 0
			for _, s := range db {
				if Contains(s, np) {
					sup++
				}
			}
			if sup >= minSup {
				out[np.String()] = sup
				rec(np) // anti-monotone: extensions of infrequent ones are infrequent
			}
		}
	}
	rec(nil)
	return out
}

func checkAgainstBruteForce(t *testing.T, db []Sequence, minSup int, got []SeqPattern) {
	t.Helper()
	maxItems := 0
	for _, p := range got {
		maxItems = max(maxItems, p.Seq.Len())
	}
	want := bruteForce(db, minSup, maxItems+1)
	if len(want) != len(got) {
		t.Errorf("brute force finds %d patterns, PrefixSpan %d", len(want), len(got))
	}
	for _, p := range got {
		if want[p.Seq.String()] != p.Support {
			t.Errorf("%s: PrefixSpan support %d, brute force %d", p.Seq, p.Support, want[p.Seq.String()])
		}
	}
}

func TestPrefixSpanRandomAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	letters := []string{"a", "b", "c", "d"}
	for trial := 0; trial < 60; trial++ {
		var db []Sequence
		for n := 2 + rng.Intn(5); n > 0; n-- {
			var s Sequence
			for m := 1 + rng.Intn(5); m > 0; m-- {
				set := map[string]bool{}
				for k := 1 + rng.Intn(2); k > 0; k-- {
					set[letters[rng.Intn(len(letters))]] = true
				}
				var is Itemset
				for x := range set {
					is = append(is, x)
				}
				sort.Strings(is)
				s = append(s, is)
			}
			db = append(db, s)
		}
		minSup := 1 + rng.Intn(3)
		got := PrefixSpan(db, minSup, 0)
		checkAgainstBruteForce(t, db, minSup, got)
		// closed ⊆ all, maximal ⊆ closed, and every pattern is contained in a maximal one
		closed, maximal := ClosedPatterns(got), MaximalPatterns(got)
		if len(maximal) > len(closed) || len(closed) > len(got) {
			t.Fatalf("trial %d: %d maximal, %d closed, %d all", trial, len(maximal), len(closed), len(got))
		}
		for _, p := range got {
			covered := false
			for _, m := range maximal {
				if Contains(m.Seq, p.Seq) {
					covered = true
				}
			}
			if !covered {
				t.Fatalf("trial %d: %s is in no maximal pattern", trial, p.Seq)
			}
		}
		if t.Failed() {
			t.Fatalf("trial %d: db %v minSup %d", trial, db, minSup)
		}
	}
}

func TestClosedAndMaximalOnPublishedExample(t *testing.T) {
	all := PrefixSpan(pei2001, 2, 0)
	closed := ClosedPatterns(all)
	maximal := MaximalPatterns(all)
	names := func(ps []SeqPattern) map[string]int {
		m := map[string]int{}
		for _, p := range ps {
			m[p.Seq.String()] = p.Support
		}
		return m
	}
	c, m := names(closed), names(maximal)
	// <a> (4) is contained in <ab> (4): not closed. <acb> (3) has no
	// super-pattern with support 3: closed. <(ab)dc> (2) is maximal.
	if _, ok := c["<a>"]; ok {
		t.Errorf("<a> must not be closed")
	}
	if c["<acb>"] != 3 {
		t.Errorf("<acb> must be closed with support 3, closed set %v", c)
	}
	if m["<(ab)dc>"] != 2 {
		t.Errorf("<(ab)dc> must be maximal, maximal set %v", m)
	}
	if _, ok := m["<acb>"]; ok {
		t.Errorf("<acb> is contained in frequent longer patterns and is not maximal")
	}
}
