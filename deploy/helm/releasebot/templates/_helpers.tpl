{{/* The release's resource name: the release name, with "-releasebot" unless it already says so. */}}
{{- define "releasebot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "releasebot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "releasebot.labels" -}}
{{ include "releasebot.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The Secret the pods read: existingSecret, or the chart's own. */}}
{{- define "releasebot.secretName" -}}
{{- .Values.existingSecret | default (include "releasebot.fullname" .) -}}
{{- end -}}

{{/* The SQLite database: the image's ENV and VOLUME say the same (checked by deploy/chart_test.go). */}}
{{- define "releasebot.dataDir" -}}/data{{- end -}}
{{- define "releasebot.sqliteURL" -}}sqlite:{{ include "releasebot.dataDir" . }}/releasebot.db{{- end -}}

{{/* Where the policy ConfigMap is mounted, and the file RELEASEBOT_POLICY names. */}}
{{- define "releasebot.policyDir" -}}/etc/releasebot{{- end -}}
{{- define "releasebot.policyFile" -}}policy.yaml{{- end -}}

{{/*
Every combination values.schema.json cannot express, with a message that says what to do. Secret
values are never quoted back.
*/}}
{{- define "releasebot.validate" -}}
{{- $sqlite := eq .Values.database.driver "sqlite" -}}
{{- if not .Values.image.repository -}}
{{- fail "image.repository is required: build the image from the project's Dockerfile, push it to your registry and set image.repository (and image.tag)" -}}
{{- end -}}
{{- if and $sqlite (gt (int .Values.replicaCount) 1) -}}
{{- fail (printf "replicaCount is %d, but SQLite allows one replica: set database.driver=postgres and RELEASEBOT_DATABASE_URL=postgres://... in the Secret to run several" (int .Values.replicaCount)) -}}
{{- end -}}
{{- $url := .Values.secretEnv.RELEASEBOT_DATABASE_URL | default "" -}}
{{- if and $sqlite $url -}}
{{- fail "secretEnv.RELEASEBOT_DATABASE_URL is set but database.driver is sqlite: set database.driver=postgres, or remove the URL (SQLite lives on the chart's volume)" -}}
{{- end -}}
{{- if .Values.existingSecret -}}
{{- range $name, $value := .Values.secretEnv -}}
{{- if $value -}}
{{- fail (printf "secretEnv.%s is set, but existingSecret is too: put the key in that Secret instead" $name) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- range $name := list "SLACK_BOT_TOKEN" "SLACK_APP_TOKEN" -}}
{{- if not (get $.Values.secretEnv $name) -}}
{{- fail (printf "secretEnv.%s is required (or name a Secret that holds it with existingSecret)" $name) -}}
{{- end -}}
{{- end -}}
{{- if and (not $sqlite) (not $url) -}}
{{- fail "database.driver=postgres needs secretEnv.RELEASEBOT_DATABASE_URL=postgres://... (or a RELEASEBOT_DATABASE_URL key in existingSecret)" -}}
{{- end -}}
{{- if and $url (not (or (hasPrefix "postgres://" $url) (hasPrefix "postgresql://" $url))) -}}
{{- fail "secretEnv.RELEASEBOT_DATABASE_URL must start with postgres:// or postgresql://" -}}
{{- end -}}
{{- end -}}
{{- end -}}
