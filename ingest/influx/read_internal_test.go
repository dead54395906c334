package influx

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// TestParseFluxCSV: the annotated CSV of several tables (a float, a
// boolean and a string field, a quoted tag value with a comma, times with
// and without a fraction) gives the numeric and boolean rows; an error
// table after the answer began is an error.
func TestParseFluxCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []devices.Point
		wantErr string
	}{
		{name: "tables",
			in: "#datatype,string,long,dateTime:RFC3339,double,string,string\r\n" +
				",result,table,_time,_value,_field,site\r\n" +
				",_result,0,2026-11-23T01:00:00Z,12.5,lel_pct,\"s,1\"\r\n" +
				",_result,0,2026-11-23T01:00:01.5Z,-3e2,lel_pct,\"s,1\"\r\n" +
				"\r\n" +
				"#datatype,string,long,dateTime:RFC3339,boolean,string\r\n" +
				",result,table,_time,_value,_field\r\n" +
				",_result,1,2026-11-23T01:00:00.000000001Z,true,fault\r\n" +
				",_result,1,2026-11-23T01:00:02Z,false,fault\r\n" +
				"\r\n" +
				"#datatype,string,long,dateTime:RFC3339,string,string\r\n" +
				",result,table,_time,_value,_field\r\n" +
				",_result,2,2026-11-23T01:00:00Z,hello,note\r\n",
			want: []devices.Point{
				{Time: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC), Metric: "lel_pct", Value: 12.5},
				{Time: time.Date(2026, 11, 23, 1, 0, 1, 5e8, time.UTC), Metric: "lel_pct", Value: -300},
				{Time: time.Date(2026, 11, 23, 1, 0, 0, 1, time.UTC), Metric: "fault", Value: 1},
				{Time: time.Date(2026, 11, 23, 1, 0, 2, 0, time.UTC), Metric: "fault", Value: 0},
			}},
		{name: "error table",
			in: "#datatype,string,long,dateTime:RFC3339,double,string\n,result,table,_time,_value,_field\n" +
				",_result,0,2026-11-23T01:00:00Z,1,lel_pct\n\n#datatype,string,string\n,error,reference\n,out of memory,\n",
			want:    []devices.Point{{Time: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC), Metric: "lel_pct", Value: 1}},
			wantErr: "flux: out of memory"},
		{name: "empty answer", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []devices.Point
			err := parseFluxCSV(bufio.NewReaderSize(strings.NewReader(tt.in), 16), func(p devices.Point) { got = append(got, p) })
			if (err == nil) != (tt.wantErr == "") || err != nil && err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Time.Equal(tt.want[i].Time) || got[i].Metric != tt.want[i].Metric || got[i].Value != tt.want[i].Value {
					t.Errorf("row %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
