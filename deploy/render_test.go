package deploy_test

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir   = "helm/releasebot"
	configDir  = "../config"
	dockerfile = "../Dockerfile"
	// The oldest Kubernetes the chart supports (Chart.yaml's kubeVersion).
	kubeVersion = "v1.25.0"
)

// Values every install needs; a case's own values are merged over them.
const (
	baseValues = `
image: {repository: registry.example/releasebot, tag: "1.2.3"}
secretEnv: {SLACK_BOT_TOKEN: xoxb-test, SLACK_APP_TOKEN: xapp-test}
`
	postgresValues = `
database: {driver: postgres}
replicaCount: 3
secretEnv: {RELEASEBOT_DATABASE_URL: "postgres://releasebot:hunter2@db:5432/releasebot"}
`
)

// rendered is one install's manifests, decoded strictly into their API types,
// so that a misspelt field in a template fails the test.
type rendered struct {
	deployment     *appsv1.Deployment
	service        *corev1.Service
	secret         *corev1.Secret
	configMap      *corev1.ConfigMap
	pvc            *corev1.PersistentVolumeClaim
	pdb            *policyv1.PodDisruptionBudget
	serviceMonitor map[string]any
	kinds          []string
}

// container is the bot's container; the chart has exactly one.
func (r rendered) container(t *testing.T) corev1.Container {
	t.Helper()
	require.NotNil(t, r.deployment, "no Deployment rendered")
	require.Len(t, r.deployment.Spec.Template.Spec.Containers, 1)
	return r.deployment.Spec.Template.Spec.Containers[0]
}

// env is the container's environment by name; each name must appear once.
func (r rendered) env(t *testing.T) map[string]corev1.EnvVar {
	t.Helper()
	out := map[string]corev1.EnvVar{}
	for _, e := range r.container(t).Env {
		_, dup := out[e.Name]
		require.False(t, dup, "environment variable %s is set twice", e.Name)
		out[e.Name] = e
	}
	return out
}

func (r rendered) mounts(t *testing.T) map[string]corev1.VolumeMount {
	t.Helper()
	out := map[string]corev1.VolumeMount{}
	for _, m := range r.container(t).VolumeMounts {
		out[m.MountPath] = m
	}
	return out
}

func (r rendered) volume(name string) *corev1.Volume {
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &v
		}
	}
	return nil
}

// render does what `helm install --dry-run` does on the client (the chart's
// kubeVersion, values.schema.json, the templates and their own checks) with
// the base values and then each of values merged over them. It uses Helm's
// engine rather than its install action, which would compile in the whole
// Kubernetes client for nothing.
func render(t *testing.T, values ...string) (rendered, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	require.NoError(t, err)
	vals := mergedValues(t, append([]string{baseValues}, values...)...)

	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *mustKubeVersion(t)
	require.True(t, chartutil.IsCompatibleRange(chrt.Metadata.KubeVersion, caps.KubeVersion.String()),
		"Chart.yaml's kubeVersion %q excludes %s", chrt.Metadata.KubeVersion, caps.KubeVersion)
	opts := chartutil.ReleaseOptions{Name: "rb", Namespace: "releases", Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, opts, caps, false)
	if err != nil {
		return rendered{}, err
	}
	files, err := engine.Render(chrt, top)
	if err != nil {
		return rendered{}, err
	}
	var r rendered
	for file, out := range files {
		if path.Ext(file) != ".yaml" {
			continue // partials and NOTES.txt
		}
		for _, doc := range releaseutil.SplitManifests(out) {
			r.decode(t, file, doc)
		}
	}
	slices.Sort(r.kinds)
	return r, nil
}

// decode adds one rendered document of file to r.
func (r *rendered) decode(t *testing.T, file, doc string) {
	t.Helper()
	var head struct{ Kind string }
	require.NoError(t, yaml.Unmarshal([]byte(doc), &head), file)
	if head.Kind == "" && isBlank(doc) {
		return // a template that rendered nothing, as Helm skips it
	}
	require.NotContains(t, r.kinds, head.Kind, "%s: a second %s", file, head.Kind)
	r.kinds = append(r.kinds, head.Kind)
	var target any
	switch head.Kind {
	case "Deployment":
		r.deployment = &appsv1.Deployment{}
		target = r.deployment
	case "Service":
		r.service = &corev1.Service{}
		target = r.service
	case "Secret":
		r.secret = &corev1.Secret{}
		target = r.secret
	case "ConfigMap":
		r.configMap = &corev1.ConfigMap{}
		target = r.configMap
	case "PersistentVolumeClaim":
		r.pvc = &corev1.PersistentVolumeClaim{}
		target = r.pvc
	case "PodDisruptionBudget":
		r.pdb = &policyv1.PodDisruptionBudget{}
		target = r.pdb
	case "ServiceMonitor":
		target = &r.serviceMonitor
	default:
		t.Fatalf("%s: unexpected kind %q", file, head.Kind)
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(doc), target), file)
}

func mustKubeVersion(t *testing.T) *chartutil.KubeVersion {
	t.Helper()
	v, err := chartutil.ParseKubeVersion(kubeVersion)
	require.NoError(t, err)
	return v
}

// isBlank reports whether a YAML document holds only comments and space.
func isBlank(doc string) bool {
	for line := range strings.Lines(doc) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// mustRender is render for values that must be accepted.
func mustRender(t *testing.T, values ...string) rendered {
	t.Helper()
	r, err := render(t, values...)
	require.NoError(t, err)
	return r
}

func mergedValues(t *testing.T, docs ...string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, doc := range docs {
		v, err := chartutil.ReadValues([]byte(doc))
		require.NoError(t, err, doc)
		merge(out, v)
	}
	return out
}

// merge copies src into dst, descending into maps present in both.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				merge(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}

// configVariables returns every variable the configuration reads: the
// envconfig tags of the structs in ../config, found by parsing the source, so
// the chart cannot set a name the bot would ignore.
func configVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(configDir, "*.go"))
	require.NoError(t, err)
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			require.NoError(t, err)
			if name, ok := reflect.StructTag(tag).Lookup("envconfig"); ok {
				names[name] = true
			}
			return true
		})
	}
	// A guard against parsing the wrong thing: these two are in SPEC §5 for good.
	require.True(t, names["SLACK_BOT_TOKEN"] && names["SLACK_APP_TOKEN"], "no envconfig tags found in %s", configDir)
	return names
}

// schema is the part of values.schema.json the tests read.
type schema struct {
	Properties map[string]struct {
		Properties map[string]json.RawMessage
	}
}

func readSchema(t *testing.T) schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	require.NoError(t, err)
	var s schema
	require.NoError(t, json.Unmarshal(b, &s))
	return s
}

// image is what the Dockerfile's final stage says about the image it builds.
type image struct {
	user       string
	expose     []string
	env        map[string]string
	volumes    []string
	entrypoint []string
	// ownedDirs are the paths copied in owned by a user: the only places the
	// image means to write.
	ownedDirs []string
}

// readDockerfile parses the instructions of the Dockerfile's last stage.
func readDockerfile(t *testing.T) image {
	t.Helper()
	f, err := os.Open(dockerfile)
	require.NoError(t, err)
	defer f.Close()

	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	require.NoError(t, sc.Err())

	var img image
	for _, line := range lines {
		instr, args, _ := strings.Cut(line, " ")
		args = strings.TrimSpace(args)
		switch strings.ToUpper(instr) {
		case "FROM":
			img = image{env: map[string]string{}}
		case "USER":
			img.user = args
		case "EXPOSE":
			img.expose = append(img.expose, strings.Fields(args)...)
		case "ENV":
			for _, kv := range strings.Fields(args) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "ENV %q: only the KEY=VALUE form is parsed here", args)
				img.env[k] = v
			}
		case "VOLUME":
			img.volumes = append(img.volumes, jsonOrFields(t, args)...)
		case "ENTRYPOINT":
			img.entrypoint = jsonOrFields(t, args)
		case "COPY":
			fields := strings.Fields(args)
			if slices.ContainsFunc(fields, func(s string) bool { return strings.HasPrefix(s, "--chown=") }) {
				img.ownedDirs = append(img.ownedDirs, fields[len(fields)-1])
			}
		}
	}
	return img
}

func jsonOrFields(t *testing.T, args string) []string {
	t.Helper()
	if !strings.HasPrefix(args, "[") {
		return strings.Fields(args)
	}
	var out []string
	require.NoError(t, json.Unmarshal([]byte(args), &out), args)
	return out
}

// sorted returns m's keys in order, for readable failures.
func sorted[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
