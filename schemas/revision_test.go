package schemas

import (
	"errors"
	"testing"
)

func TestParseRevision(t *testing.T) {
	tests := []struct {
		in      string
		want    Revision
		wantErr bool
	}{
		{"2024-11-05", V20241105, false},
		{"2025-03-26", V20250326, false},
		{"2025-06-18", V20250618, false},
		{"2025-11-25", V20251125, false},
		{"2026-07-28", V20260728, false},
		{"draft", V20260728, false},
		{"2024-10-07", 0, true},
		{"", 0, true},
		{"2025-06-18 ", 0, true},
		{"DRAFT", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRevision(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownRevision) {
					t.Fatalf("ParseRevision(%q) error = %v, want ErrUnknownRevision", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRevision(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if tt.in != DraftAlias && got.String() != tt.in {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestRevisionOrderAndText(t *testing.T) {
	all := All()
	for i := 1; i < len(all); i++ {
		if !(all[i-1] < all[i]) || all[i-1].String() >= all[i].String() {
			t.Fatalf("revisions out of order: %v then %v", all[i-1], all[i])
		}
	}
	var r Revision
	if err := r.UnmarshalText([]byte("2025-03-26")); err != nil || r != V20250326 {
		t.Fatalf("UnmarshalText = %v, %v", r, err)
	}
	b, err := V20251125.MarshalText()
	if err != nil || string(b) != "2025-11-25" {
		t.Fatalf("MarshalText = %s, %v", b, err)
	}
	if _, err := Revision(0).MarshalText(); err == nil {
		t.Fatal("MarshalText of zero revision succeeded")
	}
	if Revision(9).Valid() || Revision(9).String() != "Revision(9)" {
		t.Fatal("Revision(9) must be invalid")
	}
	if !V20250326.HasBatching() || V20250618.HasBatching() || V20241105.HasBatching() {
		t.Fatal("batching is 2025-03-26 only (1.L1, 2.T1)")
	}
	if V20251125.Stateless() || !V20260728.Stateless() {
		t.Fatal("only 2026-07-28 is stateless (4.L1)")
	}
}

func TestNegotiate(t *testing.T) {
	legacy := []Revision{V20241105, V20250326, V20250618}
	all := All()
	tests := []struct {
		name      string
		requested string
		supported []Revision
		want      Revision
		exact     bool
		err       error
	}{
		{"exact", "2025-03-26", legacy, V20250326, true, nil},
		{"newer than server: latest legacy", "2025-11-25", legacy, V20250618, false, nil},
		{"unknown string: latest legacy", "1999-01-01", legacy, V20250618, false, nil},
		{"older than server", "2024-11-05", []Revision{V20250618, V20251125}, V20251125, false, nil},
		{"draft alias", "draft", all, V20260728, true, nil},
		{"stateless unsupported: -32022", "2026-07-28", legacy, 0, false, ErrUnsupportedRevision},
		{"legacy request, stateless-only server", "2025-06-18", []Revision{V20260728}, 0, false, ErrUnsupportedRevision},
		{"counter-offer skips stateless", "2024-10-07", all, V20251125, false, nil},
		{"empty server set", "2025-06-18", nil, 0, false, ErrNoCommonRevision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Negotiate(tt.requested, tt.supported)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got.Revision != tt.want || got.Exact != tt.exact {
				t.Fatalf("Negotiate = %+v, %v; want %v exact=%v", got, err, tt.want, tt.exact)
			}
		})
	}
}

func TestCommon(t *testing.T) {
	got, err := Common([]Revision{V20241105, V20250618}, []Revision{V20250618, V20251125, V20241105})
	if err != nil || got != V20250618 {
		t.Fatalf("Common = %v, %v", got, err)
	}
	if _, err := Common([]Revision{V20241105}, []Revision{V20260728}); !errors.Is(err, ErrNoCommonRevision) {
		t.Fatalf("err = %v", err)
	}
}

func TestInterpretHeader(t *testing.T) {
	tests := []struct {
		neg    Revision
		header string
		want   HeaderMeaning
	}{
		{V20241105, "", HeaderIgnored},
		{V20241105, "garbage", HeaderIgnored},
		{V20250326, "2025-06-18", HeaderIgnored},
		{V20250618, "2025-06-18", HeaderOK},
		{V20250618, "", HeaderAbsentAssumeDefault},
		{V20250618, "2025-11-25", HeaderInvalid},
		{V20250618, "nope", HeaderInvalid},
		{V20251125, "2025-11-25", HeaderOK},
		{V20260728, "2026-07-28", HeaderOK},
		{V20260728, "draft", HeaderOK},
		{V20260728, "", HeaderInvalid},
		{V20260728, "2025-11-25", HeaderInvalid},
	}
	for _, tt := range tests {
		if got := InterpretHeader(tt.neg, tt.header); got != tt.want {
			t.Errorf("InterpretHeader(%s, %q) = %s, want %s", tt.neg, tt.header, got, tt.want)
		}
	}
}
