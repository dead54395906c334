package intern

// Pool keeps one copy of each value it is given. The zero Pool is ready
// to use.
type Pool[K comparable] struct{ kept map[K]*K }

// Of returns the kept copy of k, keeping k first if it is new.
func (p *Pool[K]) Of(k K) *K {
	if v, ok := p.kept[k]; ok {
		return v
	}
	if p.kept == nil {
		p.kept = map[K]*K{}
	}
	v := &k
	p.kept[k] = v
	return v
}

// Len is how many values are kept.
func (p *Pool[K]) Len() int { return len(p.kept) }
