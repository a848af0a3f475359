package refresh_test

import (
	"net/http"
	"testing"
)

// TestRefreshJSONStrict holds the JSON body to the form's rules: the keys
// are read by their exact names (encoding/json would match "REFRESH_TOKEN"
// to refresh_token), a key given twice in any letter case is refused rather
// than the last one silently winning, and nothing may follow the object.
// None of the refused bodies may reach the token endpoint.
func TestRefreshJSONStrict(t *testing.T) {
	env := newRefreshFuzzEnv(t)
	tests := []struct {
		name, body string
		want       int
	}{
		{"exact keys", `{"refresh_token":"good-a","provider":"a"}`, http.StatusOK},
		{"white space after the object", "{\"refresh_token\":\"good-a\",\"provider\":\"a\"} \r\n\t", http.StatusOK},
		{"an unknown key is ignored, as in the form", `{"refresh_token":"good-a","provider":"a","scope":"openid"}`, http.StatusOK},
		{"grant_type null is absent", `{"grant_type":null,"refresh_token":"good-a","provider":"a"}`, http.StatusOK},
		{"upper-case refresh_token", `{"REFRESH_TOKEN":"good-a","provider":"a"}`, http.StatusBadRequest},
		{"mixed-case provider", `{"refresh_token":"good-a","Provider":"a"}`, http.StatusBadRequest},
		{"mixed-case grant_type", `{"Grant_Type":"refresh_token","refresh_token":"good-b"}`, http.StatusBadRequest},
		{"refresh_token twice", `{"refresh_token":"spent","refresh_token":"good-a","provider":"a"}`, http.StatusBadRequest},
		{"provider twice", `{"refresh_token":"good-a","provider":"b","provider":"a"}`, http.StatusBadRequest},
		{"refresh_token twice in two letter cases", `{"refresh_token":"good-a","REFRESH_TOKEN":"spent","provider":"a"}`, http.StatusBadRequest},
		{"provider twice, once with a Kelvin sign", "{\"refresh_token\":\"good-a\",\"provider\":\"a\",\"\u212aey\":1,\"key\":2}", http.StatusBadRequest},
		{"provider twice, once with a long s", "{\"refresh_token\":\"good-a\",\"provider\":\"a\",\"refre\u017fh_token\":\"spent\"}", http.StatusBadRequest},
		{"an unknown key twice", `{"refresh_token":"good-a","provider":"a","scope":"x","scope":"y"}`, http.StatusBadRequest},
		{"a second object", `{"refresh_token":"good-a","provider":"a"} {"x":1}`, http.StatusBadRequest},
		{"a trailing word", `{"refresh_token":"good-a","provider":"a"}x`, http.StatusBadRequest},
		{"a trailing brace", `{"refresh_token":"good-a","provider":"a"}}`, http.StatusBadRequest},
		{"a trailing null", `{"refresh_token":"good-a","provider":"a"}null`, http.StatusBadRequest},
		{"truncated", `{"refresh_token":"good-a","provider":"a"`, http.StatusBadRequest},
		{"token a number", `{"refresh_token":7,"provider":"a"}`, http.StatusBadRequest},
		{"provider an object", `{"refresh_token":"good-a","provider":{"a":1}}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := env.post(t, "application/json", []byte(tt.body))
			var calls []string
			for _, fk := range env.fakes {
				calls = append(calls, fk.take()...)
			}
			if status != tt.want {
				t.Fatalf("got %d (error %v), want %d", status, got["error"], tt.want)
			}
			if tt.want != http.StatusOK {
				if got["error"] != "invalid_request" {
					t.Fatalf("got %v, want invalid_request", got)
				}
				if len(calls) > 0 {
					t.Fatalf("the token endpoint was called with %q for a refused body", calls)
				}
			}
		})
	}
}
