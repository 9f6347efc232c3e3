package deploy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestDatabaseModes checks what each database mode implies: SQLite is one
// replica that stops before the next starts, on a claim; PostgreSQL is any
// number of replicas rolled one by one and kept available through drains.
func TestDatabaseModes(t *testing.T) {
	tests := []struct {
		name         string
		values       []string
		replicas     int32
		strategy     appsv1.DeploymentStrategyType
		claim        string // the data volume's claim; "" for none
		pvc          bool   // the chart creates the claim
		pdb          bool
		databaseURL  string // a literal RELEASEBOT_DATABASE_URL; "" when it comes from the Secret
		secretName   string // the Secret the pod reads
		secretKeys   []string
		renderedKind []string
	}{
		{
			name:         "sqlite by default",
			replicas:     1,
			strategy:     appsv1.RecreateDeploymentStrategyType,
			claim:        "rb-releasebot",
			pvc:          true,
			databaseURL:  "sqlite:/data/releasebot.db",
			secretName:   "rb-releasebot",
			secretKeys:   []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"},
			renderedKind: []string{"Deployment", "PersistentVolumeClaim", "Secret", "Service"},
		},
		{
			name:         "sqlite on an existing claim",
			values:       []string{`persistence: {existingClaim: releasebot-data}`},
			replicas:     1,
			strategy:     appsv1.RecreateDeploymentStrategyType,
			claim:        "releasebot-data",
			databaseURL:  "sqlite:/data/releasebot.db",
			secretName:   "rb-releasebot",
			secretKeys:   []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"},
			renderedKind: []string{"Deployment", "Secret", "Service"},
		},
		{
			name:         "postgres with three replicas",
			values:       []string{postgresValues},
			replicas:     3,
			strategy:     appsv1.RollingUpdateDeploymentStrategyType,
			pdb:          true,
			secretName:   "rb-releasebot",
			secretKeys:   []string{"RELEASEBOT_DATABASE_URL", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"},
			renderedKind: []string{"Deployment", "PodDisruptionBudget", "Secret", "Service"},
		},
		{
			name:         "postgres with one replica has no budget that would block drains",
			values:       []string{postgresValues, `replicaCount: 1`},
			replicas:     1,
			strategy:     appsv1.RollingUpdateDeploymentStrategyType,
			secretName:   "rb-releasebot",
			secretKeys:   []string{"RELEASEBOT_DATABASE_URL", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"},
			renderedKind: []string{"Deployment", "Secret", "Service"},
		},
		{
			name: "postgres with an existing secret",
			values: []string{
				`{database: {driver: postgres}, replicaCount: 2, existingSecret: releasebot-secrets}`,
				`secretEnv: {SLACK_BOT_TOKEN: "", SLACK_APP_TOKEN: ""}`,
			},
			replicas:     2,
			strategy:     appsv1.RollingUpdateDeploymentStrategyType,
			pdb:          true,
			secretName:   "releasebot-secrets",
			renderedKind: []string{"Deployment", "PodDisruptionBudget", "Service"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRender(t, tt.values...)
			assert.Equal(t, tt.renderedKind, r.kinds)

			spec := r.deployment.Spec
			require.NotNil(t, spec.Replicas)
			assert.Equal(t, tt.replicas, *spec.Replicas, "replicas")
			assert.Equal(t, tt.strategy, spec.Strategy.Type, "strategy")
			if tt.strategy == appsv1.RollingUpdateDeploymentStrategyType {
				// Never fewer replicas connected than asked for during a rollout.
				require.NotNil(t, spec.Strategy.RollingUpdate)
				assert.Equal(t, "0", spec.Strategy.RollingUpdate.MaxUnavailable.String(), "maxUnavailable")
				assert.Equal(t, "1", spec.Strategy.RollingUpdate.MaxSurge.String(), "maxSurge")
			} else {
				assert.Nil(t, spec.Strategy.RollingUpdate)
			}

			data := r.volume("data")
			if tt.claim == "" {
				assert.Nil(t, data, "a data volume without SQLite")
				assert.NotContains(t, r.mounts(t), "/data")
			} else {
				require.NotNil(t, data, "no data volume")
				require.NotNil(t, data.PersistentVolumeClaim)
				assert.Equal(t, tt.claim, data.PersistentVolumeClaim.ClaimName)
				assert.Equal(t, "data", r.mounts(t)["/data"].Name)
				assert.False(t, r.mounts(t)["/data"].ReadOnly)
			}
			if tt.pvc {
				require.NotNil(t, r.pvc)
				assert.Equal(t, tt.claim, r.pvc.Name)
				assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, r.pvc.Spec.AccessModes)
				assert.Equal(t, "1Gi", r.pvc.Spec.Resources.Requests.Storage().String())
			}
			if tt.pdb {
				require.NotNil(t, r.pdb)
				assert.Equal(t, "1", r.pdb.Spec.MinAvailable.String(), "minAvailable")
				assert.Equal(t, r.deployment.Spec.Selector, r.pdb.Spec.Selector)
			}

			url := r.env(t)["RELEASEBOT_DATABASE_URL"]
			if tt.databaseURL != "" {
				assert.Equal(t, tt.databaseURL, url.Value)
				assert.Nil(t, url.ValueFrom)
			} else {
				assert.Empty(t, url.Value)
				require.NotNil(t, url.ValueFrom)
				require.NotNil(t, url.ValueFrom.SecretKeyRef, "the PostgreSQL URL holds a password: it must come from the Secret")
				assert.Equal(t, tt.secretName, url.ValueFrom.SecretKeyRef.Name)
				assert.Equal(t, "RELEASEBOT_DATABASE_URL", url.ValueFrom.SecretKeyRef.Key)
				assert.Nil(t, url.ValueFrom.SecretKeyRef.Optional)
			}

			for _, name := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} {
				ref := r.env(t)[name].ValueFrom
				require.NotNil(t, ref, name)
				require.NotNil(t, ref.SecretKeyRef, name)
				assert.Equal(t, tt.secretName, ref.SecretKeyRef.Name, name)
				assert.Equal(t, name, ref.SecretKeyRef.Key, name)
				assert.Nil(t, ref.SecretKeyRef.Optional, "%s is required", name)
			}
			if tt.secretKeys == nil {
				assert.Nil(t, r.secret)
			} else {
				require.NotNil(t, r.secret)
				assert.Equal(t, tt.secretName, r.secret.Name)
				assert.ElementsMatch(t, tt.secretKeys, sorted(r.secret.Data))
			}
		})
	}
}

// TestPodIsHardened checks, in both modes, what any cluster's policy will ask
// for: non-root, a read-only root, no service-account token, probes, and
// resources sized from SPEC §7's memory figures.
func TestPodIsHardened(t *testing.T) {
	for name, values := range map[string][]string{"sqlite": nil, "postgres": {postgresValues}} {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, values...)
			pod := r.deployment.Spec.Template.Spec
			c := r.container(t)

			require.NotNil(t, pod.AutomountServiceAccountToken)
			assert.False(t, *pod.AutomountServiceAccountToken, "automountServiceAccountToken")

			psc := pod.SecurityContext
			require.NotNil(t, psc)
			assert.Equal(t, ptr(true), psc.RunAsNonRoot, "runAsNonRoot")
			assert.Equal(t, ptr(int64(65532)), psc.RunAsUser, "runAsUser")
			assert.Equal(t, ptr(int64(65532)), psc.RunAsGroup, "runAsGroup")
			assert.Equal(t, ptr(int64(65532)), psc.FSGroup, "fsGroup: the volume must be writable by the user")
			require.NotNil(t, psc.SeccompProfile)
			assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type)

			sc := c.SecurityContext
			require.NotNil(t, sc)
			assert.Equal(t, ptr(true), sc.ReadOnlyRootFilesystem, "readOnlyRootFilesystem")
			assert.Equal(t, ptr(false), sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation")
			require.NotNil(t, sc.Capabilities)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
			assert.Nil(t, sc.Privileged)
			assert.Nil(t, sc.RunAsUser, "the pod's user applies")

			// A read-only root needs a writable /tmp (SQLite's and Go's temporary files).
			assert.Equal(t, "tmp", r.mounts(t)["/tmp"].Name)
			tmp := r.volume("tmp")
			require.NotNil(t, tmp)
			assert.NotNil(t, tmp.EmptyDir)

			probes := map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
			paths := map[string]string{"startup": "/healthz", "liveness": "/healthz", "readiness": "/readyz"}
			for kind, p := range probes {
				require.NotNil(t, p, "%s probe", kind)
				require.NotNil(t, p.HTTPGet, "%s probe", kind)
				assert.Equal(t, paths[kind], p.HTTPGet.Path, "%s probe", kind)
				assert.Equal(t, "http", p.HTTPGet.Port.String(), "%s probe", kind)
			}
			// The startup probe allows for migrations and a slow database: at least a minute.
			assert.GreaterOrEqual(t, c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold, int32(60))

			require.Len(t, c.Ports, 1)
			assert.Equal(t, corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, c.Ports[0])
			require.Len(t, r.service.Spec.Ports, 1)
			assert.Equal(t, "http", r.service.Spec.Ports[0].TargetPort.String())
			assert.Equal(t, r.deployment.Spec.Selector.MatchLabels, r.service.Spec.Selector)

			// SPEC §7: under 30 MB idle, under 100 MB with 1,000 operations in flight.
			req, lim := c.Resources.Requests.Memory(), c.Resources.Limits.Memory()
			assert.Equal(t, "64Mi", req.String(), "memory request")
			assert.Equal(t, "128Mi", lim.String(), "memory limit")
			assert.Greater(t, req.Value(), int64(30e6), "the request covers the idle bar")
			assert.Greater(t, lim.Value(), int64(100e6), "the limit covers the loaded bar")
			assert.Equal(t, "50m", c.Resources.Requests.Cpu().String(), "cpu request")
			_, cpuLimit := c.Resources.Limits[corev1.ResourceCPU]
			assert.False(t, cpuLimit, "no CPU limit: a throttled bot acknowledges late")

			assert.Equal(t, "registry.example/releasebot:1.2.3", c.Image)
			assert.Empty(t, c.Command, "the image's ENTRYPOINT runs")
			assert.Empty(t, c.Args)
		})
	}
}

// TestRejectsBadValues checks that values.schema.json and the templates'
// checks refuse what cannot work, saying what to do, and never quote a
// secret while doing so.
func TestRejectsBadValues(t *testing.T) {
	const password = "hunter2"
	tests := []struct {
		name   string
		values []string
		want   []string // all in the error
	}{
		{
			name:   "two replicas on SQLite",
			values: []string{`replicaCount: 2`},
			want:   []string{"replicaCount is 2, but SQLite allows one replica", "database.driver=postgres"},
		},
		{
			name:   "no replica",
			values: []string{`replicaCount: 0`},
			want:   []string{"replicaCount", "minimum"},
		},
		{
			name:   "more replicas than Slack allows connections",
			values: []string{postgresValues, `replicaCount: 10`},
			want:   []string{"replicaCount", "maximum"},
		},
		{
			name:   "replicas as a word",
			values: []string{`replicaCount: two`},
			want:   []string{"replicaCount", "integer"},
		},
		{
			name:   "an unknown database",
			values: []string{`database: {driver: mysql}`},
			want:   []string{"database/driver", "sqlite", "postgres"},
		},
		{
			name:   "a misspelt setting",
			values: []string{`env: {RELEASEBOT_OPERATOR: U0ALICE}`},
			want:   []string{"RELEASEBOT_OPERATOR", "additional properties"},
		},
		{
			name:   "a setting the chart owns",
			values: []string{`env: {RELEASEBOT_HTTP_ADDR: ":9090"}`},
			want:   []string{"RELEASEBOT_HTTP_ADDR", "additional properties"},
		},
		{
			name:   "a secret among the plain settings",
			values: []string{`env: {SLACK_BOT_TOKEN: xoxb-1}`},
			want:   []string{"SLACK_BOT_TOKEN", "additional properties"},
		},
		{
			name:   "a misspelt secret",
			values: []string{`secretEnv: {SLACK_TOKEN: xoxb-1}`},
			want:   []string{"SLACK_TOKEN", "additional properties"},
		},
		{
			name:   "a setting that is not a scalar",
			values: []string{`env: {RELEASEBOT_OPERATORS: [U0ALICE]}`},
			want:   []string{"RELEASEBOT_OPERATORS"},
		},
		{
			name:   "an unknown top-level key",
			values: []string{`replicas: 2`},
			want:   []string{"replicas", "additional properties"},
		},
		{
			name:   "a port out of range",
			values: []string{`service: {port: 70000}`},
			want:   []string{"service/port", "maximum"},
		},
		{
			name:   "no image",
			values: []string{`image: {repository: ""}`},
			want:   []string{"image.repository is required", "Dockerfile"},
		},
		{
			name:   "no Slack bot token",
			values: []string{`secretEnv: {SLACK_BOT_TOKEN: ""}`},
			want:   []string{"secretEnv.SLACK_BOT_TOKEN is required", "existingSecret"},
		},
		{
			name:   "PostgreSQL without its URL",
			values: []string{`database: {driver: postgres}`},
			want:   []string{"database.driver=postgres needs secretEnv.RELEASEBOT_DATABASE_URL"},
		},
		{
			name:   "a PostgreSQL URL on SQLite",
			values: []string{`secretEnv: {RELEASEBOT_DATABASE_URL: "postgres://u:` + password + `@db/releasebot"}`},
			want:   []string{"secretEnv.RELEASEBOT_DATABASE_URL is set but database.driver is sqlite"},
		},
		{
			name:   "a database URL that is not PostgreSQL",
			values: []string{`database: {driver: postgres}`, `secretEnv: {RELEASEBOT_DATABASE_URL: "mysql://u:` + password + `@db/releasebot"}`},
			want:   []string{"must start with postgres:// or postgresql://"},
		},
		{
			name:   "secrets given twice",
			values: []string{`existingSecret: mine`},
			want:   []string{"secretEnv.SLACK_APP_TOKEN is set, but existingSecret is too"},
		},
		{
			name:   "a bad scrape interval",
			values: []string{`metrics: {serviceMonitor: {enabled: true, interval: soon}}`},
			want:   []string{"interval"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, tt.values...)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			for _, secret := range []string{password, "xoxb-test", "xapp-test"} {
				assert.NotContains(t, err.Error(), secret, "an error quotes a secret")
			}
		})
	}
}

// TestEnvironmentIsRead checks that every variable the chart can set is one
// the configuration reads (a typo would be ignored by the bot, silently), and
// that every variable the configuration reads can be set through the chart.
func TestEnvironmentIsRead(t *testing.T) {
	read := configVariables(t)
	s := readSchema(t)

	// What the chart sets itself, from its own values.
	owned := map[string]bool{"RELEASEBOT_DATABASE_URL": true, "RELEASEBOT_HTTP_ADDR": true, "RELEASEBOT_POLICY": true}
	plain, secret := s.Properties["env"].Properties, s.Properties["secretEnv"].Properties
	require.NotEmpty(t, plain)
	require.NotEmpty(t, secret)

	settable := map[string]bool{}
	for _, names := range []map[string]bool{owned, keys(plain), keys(secret)} {
		for name := range names {
			settable[name] = true
			assert.True(t, read[name], "the chart sets %s, which config/ does not read", name)
		}
	}
	for name := range read {
		assert.True(t, settable[name], "config/ reads %s, which the chart cannot set: add it to values.schema.json's env or secretEnv", name)
	}
	for name := range plain {
		assert.NotContains(t, secret, name, "%s is both a plain and a secret setting", name)
	}

	// Every plain setting and every secret given, with a policy, in both modes:
	// each name the Deployment then sets must be read.
	var all strings.Builder
	all.WriteString("env:\n")
	for _, name := range sorted(plain) {
		fmt.Fprintf(&all, "  %s: %q\n", name, "x")
	}
	all.WriteString("secretEnv:\n")
	for _, name := range sorted(secret) {
		if name != "RELEASEBOT_DATABASE_URL" {
			fmt.Fprintf(&all, "  %s: %q\n", name, "x")
		}
	}
	policy := `policy: {release_tasks: {payments-api: {required_approvals: 2}}}`
	for mode, values := range map[string][]string{
		"sqlite":   {all.String(), policy},
		"postgres": {all.String(), policy, postgresValues},
	} {
		t.Run(mode, func(t *testing.T) {
			r := mustRender(t, values...)
			env := r.env(t)
			for name := range env {
				assert.True(t, read[name], "the Deployment sets %s, which config/ does not read", name)
			}
			for name := range plain {
				assert.Equal(t, "x", env[name].Value, "env.%s does not reach the container", name)
			}
			for name := range secret {
				if mode == "sqlite" && name == "RELEASEBOT_DATABASE_URL" {
					continue // the chart's own path on the volume (TestDatabaseModes)
				}
				require.Contains(t, env, name)
				ref := env[name].ValueFrom
				require.NotNil(t, ref, "%s must come from the Secret", name)
				require.NotNil(t, ref.SecretKeyRef, "%s must come from the Secret", name)
				assert.Equal(t, name, ref.SecretKeyRef.Key)
			}
			for name := range r.secret.Data {
				assert.True(t, read[name], "the Secret has %s, which config/ does not read", name)
			}
		})
	}
}

// TestPolicyFile checks that a policy given in the values reaches the bot as
// a read-only file named by RELEASEBOT_POLICY, and that changing it rolls the pods.
func TestPolicyFile(t *testing.T) {
	const policy = `
policy:
  release_tasks:
    payments-*:
      approvers: [S0PAYLEADS]
      required_approvals: 2
  freezes:
    - name: weekend
      cron: "0 18 * * FRI"
      duration: 62h
      timezone: Europe/Berlin
      reason: No releases over the weekend
`
	t.Run("none", func(t *testing.T) {
		r := mustRender(t)
		assert.Nil(t, r.configMap)
		assert.NotContains(t, r.env(t), "RELEASEBOT_POLICY")
		assert.Nil(t, r.volume("policy"))
	})
	t.Run("given", func(t *testing.T) {
		r := mustRender(t, policy)
		require.NotNil(t, r.configMap)
		assert.Equal(t, "rb-releasebot-policy", r.configMap.Name)

		env := r.env(t)["RELEASEBOT_POLICY"]
		assert.Equal(t, "/etc/releasebot/policy.yaml", env.Value)
		m := r.mounts(t)["/etc/releasebot"]
		assert.Equal(t, "policy", m.Name)
		assert.True(t, m.ReadOnly, "the policy is mounted read-only")
		v := r.volume("policy")
		require.NotNil(t, v)
		require.NotNil(t, v.ConfigMap)
		assert.Equal(t, r.configMap.Name, v.ConfigMap.Name)

		// The file says what the values said.
		var got, want map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(r.configMap.Data["policy.yaml"]), &got))
		require.NoError(t, yaml.Unmarshal([]byte(policy), &want))
		assert.Equal(t, want["policy"], got)

		// The file is read at start-up: another policy must restart the pods.
		other := mustRender(t, policy, `policy: {freezes: [{name: weekend, reason: Closed, from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z"}]}`)
		assert.NotEqual(t, r.deployment.Spec.Template.Annotations["checksum/config"],
			other.deployment.Spec.Template.Annotations["checksum/config"])
	})
}

// TestServiceMonitor checks the optional ServiceMonitor scrapes /metrics on the Service's port.
func TestServiceMonitor(t *testing.T) {
	r := mustRender(t)
	assert.Nil(t, r.serviceMonitor, "a ServiceMonitor needs the Prometheus Operator: off by default")

	r = mustRender(t, `metrics: {serviceMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}}`)
	require.NotNil(t, r.serviceMonitor)
	sm, err := yaml.Marshal(r.serviceMonitor)
	require.NoError(t, err)
	var got struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct {
			Selector  struct{ MatchLabels map[string]string }
			Endpoints []struct{ Port, Path, Interval string }
		}
	}
	require.NoError(t, yaml.Unmarshal(sm, &got))
	assert.Equal(t, "prometheus", got.Metadata.Labels["release"])
	assert.Equal(t, r.service.Labels["app.kubernetes.io/instance"], got.Spec.Selector.MatchLabels["app.kubernetes.io/instance"])
	require.Len(t, got.Spec.Endpoints, 1)
	assert.Equal(t, "http", got.Spec.Endpoints[0].Port)
	assert.Equal(t, r.service.Spec.Ports[0].Name, got.Spec.Endpoints[0].Port)
	assert.Equal(t, "/metrics", got.Spec.Endpoints[0].Path)
	assert.Equal(t, "15s", got.Spec.Endpoints[0].Interval)
}

// TestDockerfileAgrees checks that the image and the chart tell the same
// story: the user, the port, the database path and the writable directories.
func TestDockerfileAgrees(t *testing.T) {
	img := readDockerfile(t)
	r := mustRender(t)
	pod := r.deployment.Spec.Template.Spec
	c := r.container(t)

	uid, gid, _ := strings.Cut(img.user, ":")
	assert.Equal(t, "65532", uid, "the Dockerfile's USER")
	assert.Equal(t, fmt.Sprint(*pod.SecurityContext.RunAsUser), uid, "runAsUser vs the Dockerfile's USER")
	assert.Equal(t, fmt.Sprint(*pod.SecurityContext.RunAsGroup), gid, "runAsGroup vs the Dockerfile's USER")

	require.Equal(t, []string{"8080"}, img.expose, "the Dockerfile's EXPOSE")
	assert.Equal(t, img.expose[0], fmt.Sprint(c.Ports[0].ContainerPort), "containerPort vs EXPOSE")
	assert.Equal(t, ":"+img.expose[0], r.env(t)["RELEASEBOT_HTTP_ADDR"].Value, "RELEASEBOT_HTTP_ADDR vs EXPOSE")

	assert.Equal(t, img.env["RELEASEBOT_DATABASE_URL"], r.env(t)["RELEASEBOT_DATABASE_URL"].Value,
		"the SQLite path: the Dockerfile's ENV vs the chart")
	require.Equal(t, []string{"/data"}, img.volumes, "the Dockerfile's VOLUME")
	assert.True(t, strings.HasPrefix(strings.TrimPrefix(img.env["RELEASEBOT_DATABASE_URL"], "sqlite:"), img.volumes[0]+"/"),
		"the image's database is on its volume")
	assert.Contains(t, r.mounts(t), img.volumes[0], "the chart mounts the image's volume")

	// With a read-only root, each directory the image hands to its user must be a volume.
	require.NotEmpty(t, img.ownedDirs)
	for _, dir := range img.ownedDirs {
		assert.Contains(t, r.mounts(t), dir, "the image makes %s writable; the chart must mount it", dir)
	}

	assert.Equal(t, []string{"/releasebot"}, img.entrypoint)
	assert.Empty(t, c.Command, "the chart keeps the image's ENTRYPOINT")
}

// TestLint runs `helm lint --strict` on the chart in both modes.
func TestLint(t *testing.T) {
	for name, values := range map[string][]string{"sqlite": nil, "postgres": {postgresValues}} {
		t.Run(name, func(t *testing.T) {
			vals := mergedValues(t, append([]string{baseValues}, values...)...)
			linter := lint.AllWithKubeVersionAndSchemaValidation(chartDir, vals, "releases", mustKubeVersion(t), false)
			for _, m := range linter.Messages {
				// --strict fails on warnings too.
				assert.Less(t, m.Severity, support.WarningSev, "%s", m)
			}
		})
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func ptr[T any](v T) *T { return &v }
