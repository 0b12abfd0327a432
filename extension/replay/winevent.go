package replay

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"strconv"
	"strings"
	"time"
)

// Windows event records (JSON lines) become windows_events rows the way osquery builds them
// (osquery/events/windows/windowseventlogparser.cpp, tables/events/windows/windows_events.cpp):
//
//   - source = System/Channel, provider_name/provider_guid = System/Provider @Name/@Guid (case as written),
//     computer_name = System/Computer, eventid/task/level = System/EventID, Task, Level, keywords = System/Keywords.
//   - data = {"EventData":{<Data Name>: "<value>", ...}} (unnamed Data elements: an array of strings; other
//     EventData/UserData children keep their element names and XML attributes under "<xmlattr>"), written
//     like boost::property_tree::write_json: compact, every value a string, '/' escaped as "\/".
//   - datetime = System/TimeCreated @SystemTime in Windows' rendering, 2006-01-02T15:04:05.0000000Z.
//   - time: osquery puts the time it received the event there; a replay has no such time, so the harness uses the
//     event's own time in unix seconds: Sysmon's EventData UtcTime when present, else System TimeCreated, else
//     (flat NXLog records) the collector fields, see flatEventTime.
//   - eid is assigned by the harness when the rows are loaded.
//
// Records with an EventXML field are parsed from that XML (authoritative). Other records are NXLog flat JSON
// (OTRF/Mordor): EventData = every field that is not in nxlogMetadata, in file order; well-known channel
// names get the case Windows writes (canonicalChannel).

// nxlogMetadata lists the fields of NXLog im_msvistalog / xm_json output and of the collection pipeline
// (Logstash, Winlogbeat top-level objects) that are not EventData.
var nxlogMetadata = map[string]bool{
	"EventTime": true, "EventReceivedTime": true, "Hostname": true, "Channel": true, "SourceName": true,
	"ProviderGuid": true, "EventID": true, "EventType": true, "Severity": true, "SeverityValue": true,
	"Task": true, "Keywords": true, "Opcode": true, "OpcodeValue": true, "RecordNumber": true,
	"ActivityID": true, "RelatedActivityID": true, "ExecutionProcessID": true, "ThreadID": true,
	"Version": true, "Category": true, "AccountName": true, "AccountType": true, "Domain": true, "UserID": true,
	"SourceModuleName": true, "SourceModuleType": true, "Message": true, "Level": true, "TimeCreated": true,
	"ERROR_EVT_UNRESOLVED": true, "@timestamp": true, "@version": true, "host": true, "port": true,
	"tags": true, "type": true, "agent": true, "ecs": true, "event": true, "log": true, "winlog": true,
	"message": true,
}

const windowsTimeLayout = "2006-01-02T15:04:05.0000000Z"

// timeOffsets maps a flat collector time field to the offset that turns it into UTC.
type timeOffsets map[string]time.Duration

// flatTimeFields are the flat-record time fields, in order of preference, and their layouts.
var flatTimeFields = []struct {
	key     string
	layouts []string
}{
	{"TimeCreated", []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999"}},
	{"EventTime", []string{"2006-01-02 15:04:05", time.RFC3339Nano}},
	{"@timestamp", []string{time.RFC3339Nano}},
}

// detectOffsets learns, per file, how far each collector time field is from Sysmon's UtcTime. Offsets are
// rounded to 15 minutes and kept only when every record with both fields agrees: the 2020 OTRF files carry
// EventTime in host local time (UTC-4), the 2021 ProxyLogon file carries TimeCreated/@timestamp as local time
// labelled Z (UTC-5). Records without UtcTime (Security events) then get field + offset.
func detectOffsets(objs []orderedObject) timeOffsets {
	out := timeOffsets{}
	conflict := map[string]bool{}
	for _, o := range objs {
		if _, ok := o.get("EventXML"); ok {
			continue
		}
		utc, ok := parseUtcTime(o.str("UtcTime"))
		if !ok {
			continue
		}
		for _, f := range flatTimeFields {
			t, ok := parseLayouts(o.str(f.key), f.layouts)
			if !ok {
				continue
			}
			d := utc.Sub(t).Round(15 * time.Minute)
			if prev, seen := out[f.key]; seen && prev != d {
				conflict[f.key] = true
			}
			out[f.key] = d
		}
	}
	for k := range conflict {
		delete(out, k)
	}
	return out
}

// flatEventTime returns the UTC time of a flat record: UtcTime when present, else the first collector field
// whose offset to UtcTime was detected in the file, else the first present field taken as UTC (a documented
// limitation: then the time may be off by the host's UTC offset).
func flatEventTime(o orderedObject, offsets timeOffsets) (time.Time, bool) {
	if t, ok := parseUtcTime(o.str("UtcTime")); ok {
		return t, true
	}
	for _, f := range flatTimeFields {
		if d, ok := offsets[f.key]; ok {
			if t, ok := parseLayouts(o.str(f.key), f.layouts); ok {
				return t.Add(d), true
			}
		}
	}
	for _, f := range flatTimeFields {
		if t, ok := parseLayouts(o.str(f.key), f.layouts); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseUtcTime(s string) (time.Time, bool) {
	return parseLayouts(s, []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano})
}

func parseLayouts(s string, layouts []string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// windowsEventRow converts one record to a windows_events row.
func windowsEventRow(o orderedObject, offsets timeOffsets) (map[string]string, error) {
	if raw, ok := o.get("EventXML"); ok {
		var x string
		if err := json.Unmarshal(raw, &x); err != nil {
			return nil, errors.New("EventXML is not a string")
		}
		return WindowsEventXMLRow(x)
	}
	return flatEventRow(o, offsets)
}

func flatEventRow(o orderedObject, offsets timeOffsets) (map[string]string, error) {
	eventID := o.str("EventID")
	if _, err := strconv.ParseInt(eventID, 10, 64); err != nil {
		return nil, fmt.Errorf("not a Windows event record: EventID %q", eventID)
	}
	channel := canonicalChannel(o.str("Channel"))
	if channel == "" {
		return nil, errors.New("not a Windows event record: no Channel")
	}
	t, ok := flatEventTime(o, offsets)
	if !ok {
		return nil, errors.New("no event time (UtcTime, TimeCreated, EventTime or @timestamp)")
	}
	data := &ptree{}
	for _, kv := range o {
		if nxlogMetadata[kv.key] {
			continue
		}
		s, isNull, err := jsonScalar(kv.value)
		if err != nil {
			// Arrays/objects are not EventData values; keep their JSON text.
			s, isNull = string(kv.value), false
		}
		if isNull {
			s = ""
		}
		data.put(kv.key, s)
	}
	return map[string]string{
		"time":          strconv.FormatInt(t.Unix(), 10),
		"datetime":      t.Format(windowsTimeLayout),
		"source":        channel,
		"provider_name": o.str("SourceName"),
		"provider_guid": o.str("ProviderGuid"),
		"computer_name": o.str("Hostname"),
		"eventid":       eventID,
		"task":          o.str("Task"),
		"level":         flatLevel(o),
		"keywords":      flatKeywords(o.str("Keywords")),
		"data":          eventDataJSON(&ptree{children: []ptreeChild{{key: "EventData", tree: data}}}, nil),
	}, nil
}

// knownChannels are channel names as Windows writes them in the event XML. Some collectors lower-case them
// (the 2020 OTRF files have "security"); osquery takes the name from the XML, so flat records get it back.
var knownChannels = []string{"Security", "System", "Application", "Setup",
	"Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-PowerShell/Operational", "Windows PowerShell"}

func canonicalChannel(c string) string {
	for _, k := range knownChannels {
		if strings.EqualFold(c, k) {
			return k
		}
	}
	return c
}

// flatLevel returns the Windows level of a flat record: Level when present; else NXLog's SeverityValue mapped
// back (audit events are level 0, INFO is taken as 4 = Information).
func flatLevel(o orderedObject) string {
	if l := o.str("Level"); l != "" {
		return l
	}
	if et := o.str("EventType"); et == "AUDIT_SUCCESS" || et == "AUDIT_FAILURE" {
		return "0"
	}
	switch o.str("SeverityValue") {
	case "1":
		return "5"
	case "2":
		return "4"
	case "3":
		return "3"
	case "4":
		return "2"
	case "5":
		return "1"
	}
	return ""
}

// flatKeywords renders NXLog's signed decimal keywords as Windows' hex string.
func flatKeywords(s string) string {
	if s == "" || strings.HasPrefix(s, "0x") {
		return s
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return "0x" + strconv.FormatUint(uint64(v), 16)
	}
	if v, err := strconv.ParseUint(s, 10, 64); err == nil {
		return "0x" + strconv.FormatUint(v, 16)
	}
	return s
}

// xmlNode is a parsed XML element.
type xmlNode struct {
	name     string
	attrs    []xml.Attr
	text     string
	children []*xmlNode
}

func (n *xmlNode) child(name string) *xmlNode {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *xmlNode) attr(name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

func (n *xmlNode) textOf() string {
	if n == nil {
		return ""
	}
	return n.text
}

func parseXML(s string) (*xmlNode, error) {
	dec := xml.NewDecoder(strings.NewReader(s))
	var root *xmlNode
	var stack []*xmlNode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: t.Name.Local, attrs: append([]xml.Attr(nil), t.Attr...)}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no XML element")
	}
	return root, nil
}

// WindowsEventXMLRow converts one rendered Windows event XML to a windows_events row (without eid).
func WindowsEventXMLRow(x string) (map[string]string, error) {
	root, err := parseXML(x)
	if err != nil {
		return nil, fmt.Errorf("EventXML: %w", err)
	}
	if root.name != "Event" {
		return nil, fmt.Errorf("EventXML: root element %s, want Event", root.name)
	}
	sys := root.child("System")
	st := sys.child("TimeCreated").attr("SystemTime")
	sysTime, ok := parseSystemTime(st)
	if !ok {
		return nil, fmt.Errorf("EventXML: TimeCreated SystemTime %q is missing or not valid", st)
	}
	channel := sys.child("Channel").textOf()
	if channel == "" {
		return nil, errors.New("EventXML: System/Channel is missing")
	}
	provider := sys.child("Provider")
	if provider.attr("Name") == "" {
		return nil, errors.New("EventXML: Provider Name is missing")
	}
	nums := map[string]string{}
	for _, f := range []string{"EventID", "Task", "Level"} {
		v := strings.TrimSpace(sys.child(f).textOf())
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("EventXML: System/%s %q is missing or not valid", f, v)
		}
		nums[f] = v
	}
	data := &ptree{}
	for _, name := range []string{"EventData", "UserData"} {
		if n := root.child(name); n != nil {
			data.add(name, childrenTree(n))
		}
	}
	t := sysTime
	if ed := root.child("EventData"); ed != nil {
		for _, d := range ed.children {
			if d.name == "Data" && d.attr("Name") == "UtcTime" {
				if u, ok := parseUtcTime(d.text); ok {
					t = u
				}
			}
		}
	}
	return map[string]string{
		"time":          strconv.FormatInt(t.Unix(), 10),
		"datetime":      sysTime.Format(windowsTimeLayout),
		"source":        channel,
		"provider_name": provider.attr("Name"),
		"provider_guid": provider.attr("Guid"),
		"computer_name": sys.child("Computer").textOf(),
		"eventid":       nums["EventID"],
		"task":          nums["Task"],
		"level":         nums["Level"],
		"keywords":      sys.child("Keywords").textOf(),
		"data":          eventDataJSON(data, nil),
	}, nil
}

func parseSystemTime(s string) (time.Time, bool) {
	return parseLayouts(s, []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"})
}

// ptree mirrors the parts of boost::property_tree that osquery's parser uses: a value and ordered children.
type ptree struct {
	value    string
	children []ptreeChild
}

type ptreeChild struct {
	key  string
	tree *ptree
}

// put sets the value of the child key (first match), appending it when absent (ptree::put).
func (p *ptree) put(key, value string) {
	if key == "" {
		p.value = value
		return
	}
	for _, c := range p.children {
		if c.key == key {
			c.tree.value = value
			return
		}
	}
	p.children = append(p.children, ptreeChild{key: key, tree: &ptree{value: value}})
}

// add appends a child (ptree::add_child / push_back).
func (p *ptree) add(key string, t *ptree) {
	p.children = append(p.children, ptreeChild{key: key, tree: t})
}

// childrenTree is osquery's parseChildNodeToJSONPtree over an XML element: boost's XML reader stores the
// attributes of an element as a first child named "<xmlattr>".
func childrenTree(n *xmlNode) *ptree {
	out := &ptree{}
	detect, asArray := true, false
	for _, c := range nodeChildren(n) {
		if c.name == "Data" {
			name := c.attr("Name")
			if detect {
				asArray = name == ""
				detect = false
			}
			if asArray {
				out.add("", &ptree{value: c.text})
			} else {
				out.put(name, c.text)
			}
			continue
		}
		kids := nodeChildren(c)
		if len(kids) == 0 {
			out.add(c.name, &ptree{value: c.text})
		} else {
			out.add(c.name, childrenTree(c))
		}
	}
	return out
}

// nodeChildren returns the children of n as boost sees them: "<xmlattr>" (when n has attributes) first.
func nodeChildren(n *xmlNode) []*xmlNode {
	if n.name == "<xmlattr>" {
		return n.children
	}
	if len(n.attrs) == 0 {
		return n.children
	}
	attrs := &xmlNode{name: "<xmlattr>"}
	for _, a := range n.attrs {
		name := a.Name.Local
		if a.Name.Space == "xmlns" {
			name = "xmlns:" + a.Name.Local
		} else if a.Name.Space != "" {
			name = a.Name.Space + ":" + a.Name.Local
		}
		attrs.children = append(attrs.children, &xmlNode{name: name, text: a.Value})
	}
	return append([]*xmlNode{attrs}, n.children...)
}

// eventDataJSON writes data like boost::property_tree::write_json(stream, tree, false) without the final newline.
func eventDataJSON(p *ptree, b *strings.Builder) string {
	if b == nil {
		b = &strings.Builder{}
	}
	writePtree(b, p)
	return b.String()
}

func writePtree(b *strings.Builder, p *ptree) {
	if len(p.children) == 0 {
		writeBoostString(b, p.value)
		return
	}
	array := true
	for _, c := range p.children {
		if c.key != "" {
			array = false
			break
		}
	}
	if array {
		b.WriteByte('[')
		for i, c := range p.children {
			if i > 0 {
				b.WriteByte(',')
			}
			writePtree(b, c.tree)
		}
		b.WriteByte(']')
		return
	}
	b.WriteByte('{')
	for i, c := range p.children {
		if i > 0 {
			b.WriteByte(',')
		}
		writeBoostString(b, c.key)
		b.WriteByte(':')
		writePtree(b, c.tree)
	}
	b.WriteByte('}')
}

// writeBoostString escapes like boost's json_parser create_escapes: '/' becomes "\/", control characters
// \u00XX, bytes >= 0x80 pass through.
func writeBoostString(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '/':
			b.WriteString(`\/`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
