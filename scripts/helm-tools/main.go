// helm-tools: offline checks for the livetag Helm chart, built once by
// scripts/ensure-helm.ts into .cache/helm/.
//
//	helm-tools validate --k8s-openapi DIR [--crd FILE]... FILE|-
//	    Validates every document of a YAML stream (helm template output)
//	    against the Kubernetes OpenAPI v3 schemas (api/openapi-spec/v3 of the
//	    k8s.io/kubernetes module) or, for custom resources, against the
//	    openAPIV3Schema of the given CRDs. Unknown fields are errors (as with
//	    kubectl --validate=strict), and a few checks the API server makes
//	    outside the schema (names, labels, selector/template agreement) run too.
//	    Prints "ok <kind>/<name>" or "error <kind>/<name>: ..." per document;
//	    exits 1 when any document fails.
//	helm-tools to-json FILE|-
//	    A YAML stream as a JSON array of its non-empty documents.
//	helm-tools promql
//	    Reads a JSON array of PromQL expressions on stdin and prints, for each,
//	    the metric names it selects (Prometheus' own parser) or its parse error.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: helm-tools validate|to-json|promql ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "validate":
		err = runValidate(os.Args[2:])
	case "to-json":
		err = runToJSON(os.Args[2:])
	case "promql":
		err = runPromQL()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		var failed errValidation
		if !errors.As(err, &failed) {
			fmt.Fprintln(os.Stderr, "helm-tools:", err)
		}
		os.Exit(1)
	}
}

type errValidation struct{ n int }

func (e errValidation) Error() string { return fmt.Sprintf("%d invalid document(s)", e.n) }

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func readInput(args []string) ([]byte, error) {
	if len(args) != 1 || args[0] == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(args[0])
}

// splitYAML splits a YAML stream on document markers and returns each
// non-empty document as a JSON object.
func splitYAML(data []byte) ([]map[string]any, error) {
	var docs []map[string]any
	sep := regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)
	for i, chunk := range sep.Split(string(data), -1) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(chunk), &obj); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(obj) == 0 {
			continue
		}
		docs = append(docs, obj)
	}
	return docs, nil
}

func runToJSON(args []string) error {
	data, err := readInput(args)
	if err != nil {
		return err
	}
	docs, err := splitYAML(data)
	if err != nil {
		return err
	}
	if docs == nil {
		docs = []map[string]any{}
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(docs)
}

// ---- schemas ----

type gvk struct{ group, version, kind string }

func (g gvk) String() string {
	if g.group == "" {
		return g.version + "/" + g.kind
	}
	return g.group + "/" + g.version + "/" + g.kind
}

type schemaRef struct {
	url string // resource URL plus "#/definitions/<name>"
}

type registry struct {
	compiler *jsonschema.Compiler
	byGVK    map[gvk]schemaRef
	metaURL  string // ObjectMeta, for the metadata of custom resources
	compiled map[string]*jsonschema.Schema
}

func newRegistry() *registry {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	return &registry{compiler: c, byGVK: map[gvk]schemaRef{}, compiled: map[string]*jsonschema.Schema{}}
}

func (r *registry) schema(url string) (*jsonschema.Schema, error) {
	if s, ok := r.compiled[url]; ok {
		return s, nil
	}
	s, err := r.compiler.Compile(url)
	if err != nil {
		return nil, err
	}
	r.compiled[url] = s
	return s, nil
}

// convert turns a Kubernetes OpenAPI v3 schema into a JSON Schema (draft 4)
// with the API server's semantics: int-or-string, preserve-unknown-fields,
// and (strict) no properties beyond the declared ones.
func convert(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if b, _ := m["x-kubernetes-int-or-string"].(bool); b || m["format"] == "int-or-string" {
		return map[string]any{"anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}}
	}
	out := map[string]any{}
	for k, val := range m {
		switch k {
		case "properties", "patternProperties", "definitions":
			props := map[string]any{}
			for name, p := range val.(map[string]any) {
				props[name] = convert(p)
			}
			out[k] = props
		case "additionalProperties", "not":
			out[k] = convert(val)
		case "items":
			if arr, ok := val.([]any); ok {
				conv := make([]any, len(arr))
				for i, x := range arr {
					conv[i] = convert(x)
				}
				out[k] = conv
			} else {
				out[k] = convert(val)
			}
		case "allOf", "anyOf", "oneOf":
			arr := val.([]any)
			conv := make([]any, len(arr))
			for i, x := range arr {
				conv[i] = convert(x)
			}
			out[k] = conv
		case "$ref":
			out[k] = strings.Replace(val.(string), "#/components/schemas/", "#/definitions/", 1)
		case "nullable", "default", "example", "description":
			// nulls are dropped from documents before validation (the API
			// server treats a null as unset); defaults and docs do not validate.
		default:
			out[k] = val
		}
	}
	_, hasProps := out["properties"]
	_, hasAdditional := out["additionalProperties"]
	preserve, _ := m["x-kubernetes-preserve-unknown-fields"].(bool)
	if hasProps && !hasAdditional && !preserve {
		out["additionalProperties"] = false
	}
	return out
}

func readJSON(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// loadKubernetes reads api__v1_openapi.json and apis__<group>__<version>_openapi.json.
func (r *registry) loadKubernetes(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*_openapi.json"))
	if err != nil {
		return err
	}
	perVersion := regexp.MustCompile(`^(api__v1|apis__.+__v[0-9a-z]+)_openapi\.json$`)
	loaded := 0
	for _, f := range files {
		if !perVersion.MatchString(filepath.Base(f)) {
			continue
		}
		doc, err := readJSON(f)
		if err != nil {
			return err
		}
		comps, _ := doc["components"].(map[string]any)
		schemas, _ := comps["schemas"].(map[string]any)
		if len(schemas) == 0 {
			continue
		}
		defs := map[string]any{}
		for name, s := range schemas {
			defs[name] = convert(s)
		}
		url := "file://" + filepath.ToSlash(f)
		if err := r.compiler.AddResource(url, map[string]any{"definitions": defs}); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for name, s := range schemas {
			sm := s.(map[string]any)
			list, _ := sm["x-kubernetes-group-version-kind"].([]any)
			for _, x := range list {
				g := x.(map[string]any)
				key := gvk{g["group"].(string), g["version"].(string), g["kind"].(string)}
				// The same kind appears in every file that references it (e.g.
				// meta/v1 kinds); the first definition is as good as any.
				if _, seen := r.byGVK[key]; !seen {
					r.byGVK[key] = schemaRef{url + "#/definitions/" + name}
				}
			}
			if name == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" && r.metaURL == "" {
				r.metaURL = url + "#/definitions/" + name
			}
		}
		loaded++
	}
	if loaded == 0 {
		return fmt.Errorf("%s: no Kubernetes OpenAPI v3 files (*__v1_openapi.json)", dir)
	}
	return nil
}

func (r *registry) loadCRD(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	docs, err := splitYAML(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, crd := range docs {
		if crd["kind"] != "CustomResourceDefinition" {
			continue
		}
		spec := crd["spec"].(map[string]any)
		group := spec["group"].(string)
		kind := spec["names"].(map[string]any)["kind"].(string)
		for _, v := range spec["versions"].([]any) {
			ver := v.(map[string]any)
			schema, _ := ver["schema"].(map[string]any)
			open, _ := schema["openAPIV3Schema"].(map[string]any)
			if open == nil {
				continue
			}
			key := gvk{group, ver["name"].(string), kind}
			url := "file://" + filepath.ToSlash(path) + "/" + key.version
			if err := r.compiler.AddResource(url, convert(open)); err != nil {
				return fmt.Errorf("%s %s: %w", path, key, err)
			}
			r.byGVK[key] = schemaRef{url}
		}
	}
	return nil
}

// ---- documents ----

// dropNulls removes null-valued keys, as the API server treats them as unset.
func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if x == nil {
				delete(t, k)
			} else {
				t[k] = dropNulls(x)
			}
		}
	case []any:
		for i, x := range t {
			t[i] = dropNulls(x)
		}
	}
	return v
}

var printer = message.NewPrinter(language.English)

// leaves flattens a validation error into "<instance path>: <message>" lines.
func leaves(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) == 0 {
		*out = append(*out, fmt.Sprintf("/%s: %s", strings.Join(e.InstanceLocation, "/"), e.ErrorKind.LocalizedString(printer)))
		return
	}
	for _, c := range e.Causes {
		leaves(c, out)
	}
}

func describe(err error) []string {
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		var out []string
		leaves(ve, &out)
		sort.Strings(out)
		return out
	}
	return []string{err.Error()}
}

func asJSONValue(doc map[string]any) (any, error) {
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

func obj(m map[string]any, path ...string) map[string]any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	mm, _ := cur.(map[string]any)
	return mm
}

// apiServerChecks: rules the API server enforces outside the OpenAPI schema
// that charts commonly break.
func apiServerChecks(doc map[string]any) []string {
	var problems []string
	kind := str(doc, "kind")
	name := str(doc, "metadata", "name")
	add := func(field string, msgs []string) {
		for _, m := range msgs {
			problems = append(problems, fmt.Sprintf("%s: %s", field, m))
		}
	}
	if name == "" {
		problems = append(problems, "/metadata/name: required")
	} else {
		switch kind {
		case "Service":
			add("/metadata/name", validation.IsDNS1035Label(name))
		case "CronJob":
			add("/metadata/name", validation.IsDNS1123Subdomain(name))
			if len(name) > 52 {
				problems = append(problems, fmt.Sprintf("/metadata/name: a CronJob name must be no more than 52 characters (%d)", len(name)))
			}
		default:
			add("/metadata/name", validation.IsDNS1123Subdomain(name))
		}
	}
	checkLabels := func(where string, labels map[string]any) {
		for k, v := range labels {
			add(where+"/"+k, validation.IsQualifiedName(k))
			s, _ := v.(string)
			add(where+"/"+k, validation.IsValidLabelValue(s))
		}
	}
	checkLabels("/metadata/labels", obj(doc, "metadata", "labels"))
	// Enumerations the published schemas describe only in prose.
	enum := func(field string, v any, allowed ...string) {
		s, ok := v.(string)
		if !ok {
			return
		}
		for _, a := range allowed {
			if s == a {
				return
			}
		}
		problems = append(problems, fmt.Sprintf("%s: unsupported value %q (one of %s)", field, s, strings.Join(allowed, ", ")))
	}
	var podSpec map[string]any
	switch kind {
	case "Service":
		enum("/spec/type", obj(doc, "spec")["type"], "ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
	case "Deployment":
		enum("/spec/strategy/type", obj(doc, "spec", "strategy")["type"], "RollingUpdate", "Recreate")
	}
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		tmplLabels := obj(doc, "spec", "template", "metadata", "labels")
		checkLabels("/spec/template/metadata/labels", tmplLabels)
		for k, v := range obj(doc, "spec", "selector", "matchLabels") {
			if tmplLabels[k] != v {
				problems = append(problems, fmt.Sprintf("/spec/selector/matchLabels/%s: selector does not match template labels", k))
			}
		}
		podSpec = obj(doc, "spec", "template", "spec")
	case "CronJob":
		enum("/spec/concurrencyPolicy", obj(doc, "spec")["concurrencyPolicy"], "Allow", "Forbid", "Replace")
		checkLabels("/spec/jobTemplate/spec/template/metadata/labels", obj(doc, "spec", "jobTemplate", "spec", "template", "metadata", "labels"))
		podSpec = obj(doc, "spec", "jobTemplate", "spec", "template", "spec")
	case "PodDisruptionBudget":
		spec := obj(doc, "spec")
		if spec["minAvailable"] != nil && spec["maxUnavailable"] != nil {
			problems = append(problems, "/spec: minAvailable and maxUnavailable cannot both be set")
		}
	case "HorizontalPodAutoscaler":
		spec := obj(doc, "spec")
		if mn, ok := spec["minReplicas"].(float64); ok {
			if mx, ok := spec["maxReplicas"].(float64); ok && mn > mx {
				problems = append(problems, "/spec/minReplicas: must not exceed maxReplicas")
			}
		}
	case "ScaledObject":
		spec := obj(doc, "spec")
		if mn, ok := spec["minReplicaCount"].(float64); ok {
			if mx, ok := spec["maxReplicaCount"].(float64); ok && mn > mx {
				problems = append(problems, "/spec/minReplicaCount: must not exceed maxReplicaCount")
			}
		}
	}
	if podSpec != nil {
		enum("/restartPolicy", podSpec["restartPolicy"], "Always", "OnFailure", "Never")
		enum("/dnsPolicy", podSpec["dnsPolicy"], "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
		if tols, ok := podSpec["tolerations"].([]any); ok {
			for i, t := range tols {
				tm, _ := t.(map[string]any)
				enum(fmt.Sprintf("/tolerations/%d/operator", i), tm["operator"], "Exists", "Equal")
				enum(fmt.Sprintf("/tolerations/%d/effect", i), tm["effect"], "NoSchedule", "PreferNoSchedule", "NoExecute")
			}
		}
		volumes := map[string]bool{}
		if vs, ok := podSpec["volumes"].([]any); ok {
			for _, v := range vs {
				n := str(v.(map[string]any), "name")
				add("/volumes/"+n, validation.IsDNS1123Label(n))
				if volumes[n] {
					problems = append(problems, fmt.Sprintf("volume %q: duplicate name", n))
				}
				volumes[n] = true
			}
		}
		for _, key := range []string{"initContainers", "containers"} {
			cs, _ := podSpec[key].([]any)
			for _, c := range cs {
				cm := c.(map[string]any)
				cn := str(cm, "name")
				add("/"+key+"/"+cn, validation.IsDNS1123Label(cn))
				enum("/"+key+"/"+cn+"/imagePullPolicy", cm["imagePullPolicy"], "Always", "Never", "IfNotPresent")
				if ports, ok := cm["ports"].([]any); ok {
					for _, p := range ports {
						enum("/"+key+"/"+cn+"/ports/protocol", p.(map[string]any)["protocol"], "TCP", "UDP", "SCTP")
						if pn := str(p.(map[string]any), "name"); pn != "" {
							add("/"+key+"/"+cn+"/ports/"+pn, validation.IsValidPortName(pn))
						}
					}
				}
				if mounts, ok := cm["volumeMounts"].([]any); ok {
					for _, m := range mounts {
						vn := str(m.(map[string]any), "name")
						if !volumes[vn] {
							problems = append(problems, fmt.Sprintf("/%s/%s/volumeMounts: volume %q is not defined", key, cn, vn))
						}
					}
				}
				if env, ok := cm["env"].([]any); ok {
					for _, e := range env {
						add("/"+key+"/"+cn+"/env", validation.IsEnvVarName(str(e.(map[string]any), "name")))
					}
				}
			}
		}
	}
	return problems
}

func (r *registry) validate(doc map[string]any) []string {
	dropNulls(doc)
	apiVersion := str(doc, "apiVersion")
	kind := str(doc, "kind")
	if apiVersion == "" || kind == "" {
		return []string{"apiVersion and kind are required"}
	}
	key := gvk{version: apiVersion, kind: kind}
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		key.group, key.version = apiVersion[:i], apiVersion[i+1:]
	}
	ref, ok := r.byGVK[key]
	if !ok {
		return []string{fmt.Sprintf("no schema for %s (unknown apiVersion/kind, or its CRD was not given)", key)}
	}
	var problems []string
	inst, err := asJSONValue(doc)
	if err != nil {
		return []string{err.Error()}
	}
	s, err := r.schema(ref.url)
	if err != nil {
		return []string{fmt.Sprintf("schema %s: %v", ref.url, err)}
	}
	if err := s.Validate(inst); err != nil {
		problems = append(problems, describe(err)...)
	}
	if strings.Contains(ref.url, ".yaml/") && r.metaURL != "" {
		// A CRD's schema leaves metadata open; check it as the API server does.
		meta, err := r.schema(r.metaURL)
		if err != nil {
			return append(problems, err.Error())
		}
		if m, ok := inst.(map[string]any)["metadata"]; ok {
			if err := meta.Validate(m); err != nil {
				for _, p := range describe(err) {
					problems = append(problems, "/metadata"+p)
				}
			}
		}
	}
	return append(problems, apiServerChecks(doc)...)
}

func runValidate(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	k8sDir := fs.String("k8s-openapi", "", "directory of Kubernetes OpenAPI v3 files (api/openapi-spec/v3)")
	var crds multiFlag
	fs.Var(&crds, "crd", "CustomResourceDefinition YAML file (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *k8sDir == "" {
		return errors.New("--k8s-openapi is required")
	}
	r := newRegistry()
	if err := r.loadKubernetes(*k8sDir); err != nil {
		return err
	}
	for _, c := range crds {
		if err := r.loadCRD(c); err != nil {
			return err
		}
	}
	data, err := readInput(fs.Args())
	if err != nil {
		return err
	}
	docs, err := splitYAML(data)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return errors.New("no documents to validate")
	}
	bad := 0
	for _, doc := range docs {
		id := fmt.Sprintf("%s/%s", str(doc, "kind"), str(doc, "metadata", "name"))
		if problems := r.validate(doc); len(problems) > 0 {
			bad++
			fmt.Printf("error %s:\n  %s\n", id, strings.Join(problems, "\n  "))
		} else {
			fmt.Printf("ok %s\n", id)
		}
	}
	if bad > 0 {
		return errValidation{bad}
	}
	return nil
}

// ---- PromQL ----

type promqlResult struct {
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics"`
	Error   string   `json:"error,omitempty"`
}

func runPromQL() error {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		return fmt.Errorf("stdin: a JSON array of strings: %w", err)
	}
	p := parser.NewParser(parser.Options{})
	results := make([]promqlResult, 0, len(exprs))
	for _, e := range exprs {
		res := promqlResult{Expr: e, Metrics: []string{}}
		expr, err := p.ParseExpr(e)
		if err != nil {
			res.Error = err.Error()
		} else {
			seen := map[string]bool{}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				vs, ok := node.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				name := vs.Name
				if name == "" {
					for _, m := range vs.LabelMatchers {
						if m.Name == "__name__" {
							name = m.Value
						}
					}
				}
				if name == "" {
					res.Error = "a selector without a metric name"
				} else if !seen[name] {
					seen[name] = true
					res.Metrics = append(res.Metrics, name)
				}
				return nil
			})
			sort.Strings(res.Metrics)
		}
		results = append(results, res)
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}
