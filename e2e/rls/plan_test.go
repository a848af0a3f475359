package rls

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// plan is one node of the tree EXPLAIN (FORMAT JSON) prints. Only the
// fields the tests and the benchmark read are decoded; the ANALYZE and
// BUFFERS ones are zero without those options.
type plan struct {
	NodeType           string `json:"Node Type"`
	ParentRelationship string `json:"Parent Relationship"`
	SubplanName        string `json:"Subplan Name"`
	RelationName       string `json:"Relation Name"`
	IndexName          string `json:"Index Name"`
	IndexCond          string `json:"Index Cond"`
	RecheckCond        string `json:"Recheck Cond"`
	Filter             string `json:"Filter"`
	// Output is what the node returns (VERBOSE): for an InitPlan, the
	// expression it evaluates once.
	Output []string `json:"Output"`
	Plans  []plan   `json:"Plans"`

	ActualRows           float64 `json:"Actual Rows"`
	ActualLoops          float64 `json:"Actual Loops"`
	RowsRemovedByFilter  float64 `json:"Rows Removed by Filter"`
	RowsRemovedByRecheck float64 `json:"Rows Removed by Index Recheck"`
	SharedHitBlocks      float64 `json:"Shared Hit Blocks"`
	SharedReadBlocks     float64 `json:"Shared Read Blocks"`
}

// explained is one statement's EXPLAIN (FORMAT JSON) document.
type explained struct {
	Plan          plan    `json:"Plan"`
	PlanningTime  float64 `json:"Planning Time"`
	ExecutionTime float64 `json:"Execution Time"`
}

// explainJSON runs EXPLAIN (FORMAT JSON, <options>) of sql in tx and
// decodes the plan.
func explainJSON(ctx context.Context, tx pgx.Tx, options, sql string, args ...any) (explained, error) {
	var raw []byte
	if err := tx.QueryRow(ctx, "explain (format json, "+options+") "+sql, args...).Scan(&raw); err != nil {
		return explained{}, fmt.Errorf("explain %s: %w", sql, err)
	}
	var doc []explained
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc) != 1 {
		return explained{}, fmt.Errorf("explain %s: want one plan, got %d (%v)", sql, len(doc), err)
	}
	return doc[0], nil
}

// walk calls fn for p and every node below it, InitPlans included.
func (p *plan) walk(fn func(*plan)) {
	fn(p)
	for i := range p.Plans {
		p.Plans[i].walk(fn)
	}
}

// isIndexScan reports whether the node reads an index.
func (p *plan) isIndexScan() bool {
	switch p.NodeType {
	case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
		return true
	}
	return false
}

// initPlanRefs are the ways a condition names the value of an InitPlan:
// "$0" up to PostgreSQL 16 (the Subplan Name says "InitPlan 1 (returns
// $0)"), "(InitPlan 1).col1" from 17.
var initPlanParam = regexp.MustCompile(`\$\d+`)

func (p *plan) initPlanRefs() []*regexp.Regexp {
	var refs []*regexp.Regexp
	name, returns, _ := strings.Cut(p.SubplanName, " (returns ")
	for _, param := range initPlanParam.FindAllString(returns, -1) {
		refs = append(refs, regexp.MustCompile(regexp.QuoteMeta(param)+`\b`))
	}
	if name != "" {
		refs = append(refs, regexp.MustCompile(`\(`+regexp.QuoteMeta(name)+`\)`))
	}
	return refs
}

// authCall matches a call of one of Supabase's auth functions.
var authCall = regexp.MustCompile(`auth\.(uid|jwt|role|email)\(\)`)

// planShape is what the initplan form must give: the policy's function
// evaluated in an InitPlan, the table reached through index (on the policy
// column, with the InitPlan's value as the key), no sequential scan and
// no auth.*() call left in any per-row condition.
type planShape struct {
	table    string // the relation scanned
	index    string // the index the scan must use
	column   string // the column its condition compares
	function string // the auth function the InitPlan evaluates, e.g. auth.jwt()
}

// check returns what is wrong with root, nothing when it has the shape.
func (s planShape) check(root *plan) []string {
	var problems []string
	var initPlans []*plan
	var scans []*plan
	root.walk(func(n *plan) {
		if n.NodeType == "Seq Scan" {
			problems = append(problems, fmt.Sprintf("a Seq Scan on %s", n.RelationName))
		}
		for _, cond := range []string{n.Filter, n.IndexCond, n.RecheckCond} {
			if authCall.MatchString(cond) {
				problems = append(problems, fmt.Sprintf("%s calls the function in its condition %q (the per-row form)", n.NodeType, cond))
			}
		}
		if n.ParentRelationship == "InitPlan" && slices.ContainsFunc(n.Output, func(o string) bool { return strings.Contains(o, s.function) }) {
			initPlans = append(initPlans, n)
		}
		if n.isIndexScan() && n.IndexName == s.index {
			scans = append(scans, n)
		}
	})
	if len(initPlans) == 0 {
		problems = append(problems, "no InitPlan evaluates "+s.function)
	}
	if len(scans) == 0 {
		problems = append(problems, "no index scan on "+s.index)
	}
	for _, scan := range scans {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(s.column) + `\b`).MatchString(scan.IndexCond) {
			problems = append(problems, fmt.Sprintf("%s on %s: condition %q does not compare %s", scan.NodeType, s.index, scan.IndexCond, s.column))
			continue
		}
		if s.column == "id" {
			continue // the primary key lookup of an update; the policy is its filter
		}
		keyed := false
		for _, ip := range initPlans {
			for _, ref := range ip.initPlanRefs() {
				keyed = keyed || ref.MatchString(scan.IndexCond)
			}
		}
		if !keyed {
			problems = append(problems, fmt.Sprintf("%s on %s: condition %q does not use the InitPlan's value", scan.NodeType, s.index, scan.IndexCond))
		}
	}
	return problems
}

// TestPlanShape asserts, in a real PostgreSQL, that the policies of
// docs/sql/10_app_rls.sql run in the initplan form: through the gateway,
// with a token from the real exchange handler, one user's select reaches
// the table through the index on the policy's column, the policy's
// function is evaluated once in an InitPlan, and nothing is scanned
// sequentially. The tables hold 20,000 rows each after ANALYZE, so the
// planner picks the index on its own (enable_seqscan stays on).
func TestPlanShape(t *testing.T) {
	t.Parallel()
	secret := randomSecret(t)
	e := newEnv(t, secret)
	p := newProvider(t)
	h := newExchange(t, p, secret, map[string]string{"SUB_MAPPING": "uuid5"})
	who := person{"alice", authentikID("alice"), "org-7"}
	alice := exchangeToken(t, h, p.token(t, who, nil))
	sub, _ := claimsOf(t, e.gw, alice)["sub"].(string)
	if sub == "" {
		t.Fatal("the minted token has no sub")
	}

	// 200 users with 100 rows each per owner table, 100 organisations with
	// 200 documents each; alice owns user 7's rows and is in org-7.
	const rows, users, orgs = 20000, 200, 100
	seed := []string{
		fmt.Sprintf("insert into public.notes (user_id, body) select 'user-' || (g %% %d), 'note ' || g from generate_series(1, %d) g", users, rows),
		fmt.Sprintf("insert into public.todos (user_id, body) select 'user-' || (g %% %d), 'todo ' || g from generate_series(1, %d) g", users, rows),
		fmt.Sprintf("insert into public.org_documents (org_id, created_by, body) select 'org-' || (g %% %d), 'user-' || (g %% %d), 'doc ' || g from generate_series(1, %d) g", orgs, users, rows),
		"update public.notes set user_id = $1 where user_id = 'user-7'",
		"update public.todos set user_id = $1 where user_id = 'user-7'",
		"analyze public.notes, public.todos, public.org_documents",
	}
	for _, sql := range seed {
		args := []any{}
		if strings.Contains(sql, "$1") {
			args = append(args, sub)
		}
		if _, err := e.admin.Exec(t.Context(), sql, args...); err != nil {
			t.Fatalf("seed: %s: %v", sql, err)
		}
	}
	// Count the calls of the auth functions, to see them made once.
	if err := trackFunctions(t.Context(), e.admin, e.api, true); err != nil {
		t.Fatal(err)
	}
	var noteID string
	if err := e.admin.QueryRow(t.Context(), "select id::text from public.notes where user_id = $1 limit 1", sub).Scan(&noteID); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		sql   string
		args  []any
		rows  int // what the statement itself returns or touches as alice
		shape planShape
	}{
		{"notes: one user's select", "select id, body from public.notes", nil, rows / users,
			planShape{"notes", "notes_user_id_idx", "user_id", "auth.jwt()"}},
		{"todos: one user's select, auth.uid()", "select id, body from public.todos", nil, rows / users,
			planShape{"todos", "todos_user_id_idx", "user_id", "auth.uid()"}},
		{"org_documents: an organisation's select", "select id, body from public.org_documents", nil, rows / orgs,
			planShape{"org_documents", "org_documents_org_id_idx", "org_id", "auth.jwt()"}},
		{"notes: update of one row", "update public.notes set body = body || '.' where id = $1", []any{noteID}, 1,
			planShape{"notes", "notes_pkey", "id", "auth.jwt()"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.gw.Do(t.Context(), "Bearer "+alice, func(ctx context.Context, tx pgx.Tx) error {
				doc, err := explainJSON(ctx, tx, "verbose", tc.sql, tc.args...)
				if err != nil {
					return err
				}
				for _, problem := range tc.shape.check(&doc.Plan) {
					t.Errorf("plan: %s", problem)
				}
				if t.Failed() {
					pretty, _ := json.MarshalIndent(doc.Plan, "", "  ")
					t.Logf("the plan:\n%s", pretty)
				}
				var affected int64
				calls, err := functionCalls(ctx, tx, tc.shape.function, func() error {
					tag, err := tx.Exec(ctx, tc.sql, tc.args...)
					affected = tag.RowsAffected()
					return err
				})
				if err != nil {
					return err
				}
				if int(affected) != tc.rows {
					t.Errorf("%s as alice: %d rows, want %d", tc.sql, affected, tc.rows)
				}
				// Once per InitPlan: one for a select, one for USING and
				// one for WITH CHECK in an update. The per-row form calls
				// it for every row it checks.
				if maxCalls := int64(1 + strings.Count(tc.sql, "update")); calls < 1 || calls > maxCalls {
					t.Errorf("%s called %d times by %s touching %d rows, want 1 to %d", tc.shape.function, calls, tc.sql, affected, maxCalls)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPlanShapeCheck feeds planShape.check plans it must refuse, so that
// TestPlanShape can fail: the per-row form's filter, a sequential scan, a
// scan whose key is not the InitPlan's value, and the PostgreSQL 17 spelling
// of an InitPlan reference, which it must accept.
func TestPlanShapeCheck(t *testing.T) {
	shape := planShape{"notes", "notes_user_id_idx", "user_id", "auth.jwt()"}
	initPlan := plan{NodeType: "Result", ParentRelationship: "InitPlan", SubplanName: "InitPlan 1 (returns $0)", Output: []string{"auth.jwt()"}}
	good := plan{NodeType: "Bitmap Heap Scan", RecheckCond: "(notes.user_id = ($0 ->> 'sub'::text))", Plans: []plan{
		initPlan,
		{NodeType: "Bitmap Index Scan", ParentRelationship: "Outer", IndexName: "notes_user_id_idx", IndexCond: "(notes.user_id = ($0 ->> 'sub'::text))"},
	}}
	pg17 := plan{NodeType: "Index Scan", IndexName: "notes_user_id_idx", IndexCond: "(notes.user_id = ((InitPlan 1).col1 ->> 'sub'::text))", Plans: []plan{
		{NodeType: "Result", ParentRelationship: "InitPlan", SubplanName: "InitPlan 1", Output: []string{"auth.jwt()"}},
	}}
	perRow := plan{NodeType: "Bitmap Heap Scan", Filter: "((auth.jwt() ->> 'sub'::text) = notes.user_id)", Plans: []plan{
		{NodeType: "Bitmap Index Scan", IndexName: "notes_user_id_idx", IndexCond: "(notes.user_id = (auth.jwt() ->> 'sub'::text))"},
	}}
	seq := plan{NodeType: "Seq Scan", RelationName: "notes", Filter: "(notes.user_id = ($0 ->> 'sub'::text))", Plans: []plan{initPlan}}
	otherKey := plan{NodeType: "Index Scan", IndexName: "notes_user_id_idx", IndexCond: "(notes.user_id = $1)", Plans: []plan{initPlan}}
	for _, tc := range []struct {
		name string
		plan plan
		want []string // substrings of the problems, in order; none for a good plan
	}{
		{"initplan form", good, nil},
		{"PostgreSQL 17 reference", pg17, nil},
		{"per-row form", perRow, []string{"per-row form", "per-row form", "no InitPlan", "does not use the InitPlan"}},
		{"sequential scan", seq, []string{"Seq Scan on notes", "no index scan"}},
		{"key from elsewhere", otherKey, []string{"does not use the InitPlan"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shape.check(&tc.plan)
			if len(got) != len(tc.want) {
				t.Fatalf("got problems %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d: got %q, want it to mention %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}
