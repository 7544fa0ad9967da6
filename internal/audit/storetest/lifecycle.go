package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

func testVerify(t *testing.T, h *harness) {
	s := h.store("a")
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify of an empty store: %v", err)
	}
	if n, err := s.VerifyAll(ctx); n != 0 || err != nil {
		t.Fatalf("VerifyAll of an empty store = %d, %v", n, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	for range 3 {
		mustAppend(t, s, intent("local", "proj-a"))
	}
	other := h.store("a")
	mustAppend(t, other, check("local", "proj-a", audit.DecisionDenied))
	for _, st := range []audit.Store{s, other} {
		if err := st.Verify(ctx); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if n, err := st.VerifyAll(ctx); n != 4 || err != nil {
			t.Fatalf("VerifyAll = %d, %v; want 4", n, err)
		}
	}
	if s.Keyed() != other.Keyed() {
		t.Fatal("two handles on one store disagree on Keyed")
	}
}

func testDurable(t *testing.T, h *harness) {
	s := h.store("a")
	i, err := s.Reserve(ctx, intent("token:a", "proj-a"), func(audit.QuotaCounts) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, result(i.Seq, audit.OutcomeCreated, "key_1"))
	if err := s.AppendCheck(ctx, check("token:a", "proj-a", audit.DecisionAllowed)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.UseConfirmation(ctx, "n", h.clock.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := s.AddLease(ctx, audit.Lease{KeyID: "key_1", EndsAt: h.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	key, err := s.ConfirmationKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := all(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := h.store("a")
	after := all(t, r)
	if len(after) != len(before) || len(after) < 3 {
		t.Fatalf("%d records after a restart, %d before", len(after), len(before))
	}
	for i := range before {
		if norm(t, before[i]) != norm(t, after[i]) {
			t.Fatalf("record %d changed across a restart", i+1)
		}
	}
	q, err := r.Counts(ctx, "token:a", h.clock.Now())
	if err != nil || q.Caller.LastHour != 1 || q.Global.LastDay != 1 {
		t.Fatalf("Counts after a restart = %+v, %v", q, err)
	}
	if m, err := r.Minted(ctx, []string{"key_1"}); err != nil || m["key_1"].Caller != "token:a" {
		t.Fatalf("Minted after a restart = %v, %v", m, err)
	}
	if ok, err := r.UseConfirmation(ctx, "n", h.clock.Now().Add(time.Hour)); ok || err != nil {
		t.Fatalf("a used nonce after a restart: %v, %v", ok, err)
	}
	if l, err := r.Leases(ctx, []string{"key_1"}); err != nil || len(l) != 1 {
		t.Fatalf("leases after a restart: %v, %v", l, err)
	}
	if k, err := r.ConfirmationKey(ctx); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("confirmation key after a restart: %v", err)
	}
	if n, err := r.VerifyAll(ctx); err != nil || n != len(after) {
		t.Fatalf("VerifyAll after a restart = %d, %v", n, err)
	}
	// New records continue the chain.
	next := mustAppend(t, r, intent("token:a", "proj-a"))
	if next.Seq != int64(len(after)+1) {
		t.Fatalf("next seq %d, want %d", next.Seq, len(after)+1)
	}
}

func testClosed(t *testing.T, h *harness) {
	s := h.store("a")
	mustAppend(t, s, intent("local", "proj-a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	now := h.clock.Now()
	errs := map[string]error{}
	_, errs["Append"] = s.Append(ctx, intent("local", "proj-a"))
	errs["AppendCheck"] = s.AppendCheck(ctx, check("local", "proj-a", audit.DecisionAllowed))
	_, errs["Reserve"] = s.Reserve(ctx, intent("local", "proj-a"), func(audit.QuotaCounts) error { return nil })
	_, errs["UseConfirmation"] = s.UseConfirmation(ctx, "n", now)
	errs["AddLease"] = s.AddLease(ctx, audit.Lease{KeyID: "k", EndsAt: now})
	_, errs["ClaimDueLeases"] = s.ClaimDueLeases(ctx, "a", now, now.Add(time.Minute), 1)
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s after Close succeeded", name)
		}
	}
	if n := len(all(t, h.store("a"))); n != 1 {
		t.Fatalf("%d records; a closed store wrote", n)
	}
}

func testContext(t *testing.T, h *harness) {
	s := h.store("a")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	now := h.clock.Now()
	if _, err := s.Append(cctx, intent("local", "proj-a")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context = %v", err)
	}
	if _, err := s.Reserve(cctx, intent("local", "proj-a"), func(audit.QuotaCounts) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Reserve with a cancelled context = %v", err)
	}
	if _, err := s.UseConfirmation(cctx, "n", now); !errors.Is(err, context.Canceled) {
		t.Errorf("UseConfirmation with a cancelled context = %v", err)
	}
	if n := len(all(t, s)); n != 0 {
		t.Fatalf("%d records written with a cancelled context", n)
	}
	if ok, err := s.UseConfirmation(ctx, "n", now); !ok || err != nil {
		t.Fatalf("the nonce was used with a cancelled context: %v, %v", ok, err)
	}
}
