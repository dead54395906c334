package devices

import "testing"

// TestBuiltinModels checks the library parses, every model covers all the
// metrics of its kind, no two registers of a table overlap, and every byte
// and word order is represented.
func TestBuiltinModels(t *testing.T) {
	models, err := BuiltinModels()
	if err != nil {
		t.Fatal(err)
	}
	orders := map[string]bool{}
	types := map[string]bool{}
	for _, k := range Kinds() {
		name := BuiltinModelFor(k)
		m, ok := models[name]
		if !ok {
			t.Fatalf("kind %s: model %q missing", k, name)
		}
		spec, _ := SpecOf(k)
		mapped := map[string]bool{}
		used := map[string]map[uint16]string{}
		for _, r := range m.Registers {
			if _, ok := spec.Metric(r.Metric); !ok {
				t.Errorf("%s: %s is not a %s metric", name, r.Metric, k)
			}
			mapped[r.Metric] = true
			types[r.Type] = true
			orders["byte "+or(r.ByteOrder)] = true
			if RegisterWidth(r.Type) > 1 {
				orders["word "+or(r.WordOrder)] = true
			}
			if used[r.Table] == nil {
				used[r.Table] = map[uint16]string{}
			}
			for a := r.Address; a < r.Address+uint16(RegisterWidth(r.Type)); a++ {
				if other, dup := used[r.Table][a]; dup {
					t.Errorf("%s: %s %d used by %s and %s", name, r.Table, a, other, r.Metric)
				}
				used[r.Table][a] = r.Metric
			}
		}
		for _, ms := range spec.Metrics {
			if !mapped[ms.Name] {
				t.Errorf("%s: metric %s not mapped", name, ms.Name)
			}
		}
	}
	for _, want := range []string{"byte big", "byte little", "word big", "word little"} {
		if !orders[want] {
			t.Errorf("no register uses %s order", want)
		}
	}
	for _, want := range []string{"float32", "int32", "uint32", "uint16", "int16", "bool"} {
		if !types[want] {
			t.Errorf("no register of type %s", want)
		}
	}
	if BuiltinModelFor(KindUnknown) != "" {
		t.Error("unknown kind has a model")
	}
}

func or(s string) string {
	if s == "" {
		return "big"
	}
	return s
}

// TestLiftcoFloorHasNoZero: the liftco-lc2 holds the signed floor as the
// car shows it, so the map adds no offset: an offset from a landing count
// (raw 0 = B2) decodes one landing as floor 0, and Chinese numbering has
// none (B1, then 1).
func TestLiftcoFloorHasNoZero(t *testing.T) {
	models, err := BuiltinModels()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range models["liftco-lc2"].Registers {
		if r.Metric != "car_floor" {
			continue
		}
		if r.Type != "int16" || r.Offset != 0 || (r.Scale != 0 && r.Scale != 1) {
			t.Fatalf("car_floor is %s scale %g offset %g: raw %g would read floor 0", r.Type, r.Scale, r.Offset, -r.Offset)
		}
		return
	}
	t.Fatal("liftco-lc2 maps no car_floor")
}
