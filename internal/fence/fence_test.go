package fence

import (
	"context"
	"testing"
)

func TestTokenTravelsInTheContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := From(ctx); ok {
		t.Fatal("a bare context carries a token")
	}
	want := Token{Partition: "north", Epoch: 7}
	got, ok := From(With(ctx, want))
	if !ok || got != want {
		t.Fatalf("From(With(%v)) = %v, %v", want, got, ok)
	}
	if err := Check(ctx, nil); err != nil {
		t.Fatalf("Check without a token = %v, want nil (API writes are never fenced)", err)
	}
}
