package lineage

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/compilelineage/compile-lineage/tables/vocab"
)

// TestDecodesEveryTableColumn fails when compile_lineage gains a column the correlator does
// not decode, or the Record names a column the table does not have.
func TestDecodesEveryTableColumn(t *testing.T) {
	t.Parallel()
	cols := map[string]string{}
	for _, c := range vocab.LineageColumns() {
		if c.Type == vocab.TypeText {
			cols[c.Name] = "v_" + c.Name
		} else {
			cols[c.Name] = "7"
		}
	}
	line, err := json.Marshal(map[string]any{"decorations": map[string]string{"host_uuid": "U1"}, "action": "added", "columns": cols})
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, string(line))
	if len(got) != 1 {
		t.Fatalf("got %d records", len(got))
	}
	v := reflect.ValueOf(got[0])
	byTag := map[string]reflect.Value{}
	for i := range v.NumField() {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			byTag[tag] = v.Field(i)
		}
	}
	for _, c := range vocab.LineageColumns() {
		f, ok := byTag[c.Name]
		if !ok {
			t.Errorf("Record has no field for column %s", c.Name)
			continue
		}
		if f.IsZero() {
			t.Errorf("column %s = %q was not decoded", c.Name, cols[c.Name])
		}
	}
	for tag := range byTag {
		if _, ok := cols[tag]; !ok && tag != vocab.ColFallback {
			t.Errorf("Record field %s is not a compile_lineage column", tag)
		}
	}
}
