{{/* The chart name, or nameOverride. */}}
{{- define "prescale.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of the release's objects: fullnameOverride, else the release name when it
contains the chart name, else "<release>-<chart>"; at most 63 characters. */}}
{{- define "prescale.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "prescale.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select the pods (never change them on an installed release). */}}
{{- define "prescale.selectorLabels" -}}
app.kubernetes.io/name: {{ include "prescale.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object: the selector labels, the chart's, and commonLabels. */}}
{{- define "prescale.labels" -}}
helm.sh/chart: {{ include "prescale.chart" . }}
{{ include "prescale.selectorLabels" . }}
app.kubernetes.io/component: controller
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "prescale.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "prescale.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "prescale.configMapName" -}}
{{- printf "%s-config" (include "prescale.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "prescale.leaseName" -}}
{{- default (include "prescale.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "prescale.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/* Where the Secret prometheus.existingSecret is mounted. */}}
{{- define "prescale.secretDir" -}}
/var/run/secrets/prescale/prometheus
{{- end }}

{{/* The keys of prometheus.existingSecret that the configuration uses, in a stable order;
fails on an inconsistent combination. */}}
{{- define "prescale.secretKeys" -}}
{{- $p := .Values.prometheus }}
{{- $keys := list }}
{{- if and $p.bearerTokenKey $p.basicAuth.passwordKey }}
{{- fail "prometheus: set bearerTokenKey or basicAuth.passwordKey, not both" }}
{{- end }}
{{- if and $p.basicAuth.passwordKey (not $p.basicAuth.username) }}
{{- fail "prometheus.basicAuth.passwordKey needs prometheus.basicAuth.username" }}
{{- end }}
{{- if and $p.basicAuth.username (not $p.basicAuth.passwordKey) }}
{{- fail "prometheus.basicAuth.username needs prometheus.basicAuth.passwordKey (a key of prometheus.existingSecret)" }}
{{- end }}
{{- if ne (empty $p.tls.certKey) (empty $p.tls.keyKey) }}
{{- fail "prometheus.tls: certKey and keyKey go together" }}
{{- end }}
{{- range (list $p.bearerTokenKey $p.basicAuth.passwordKey $p.tls.caKey $p.tls.certKey $p.tls.keyKey) }}
{{- if . }}
{{- $keys = append $keys . }}
{{- end }}
{{- end }}
{{- if and $keys (not $p.existingSecret) }}
{{- fail "prometheus: bearerTokenKey, basicAuth.passwordKey and tls.*Key name keys of prometheus.existingSecret, which is not set" }}
{{- end }}
{{- if and $p.existingSecret (not $keys) }}
{{- fail "prometheus.existingSecret is set but no key of it is used (bearerTokenKey, basicAuth.passwordKey, tls.caKey, tls.certKey, tls.keyKey)" }}
{{- end }}
{{- toJson (uniq $keys) }}
{{- end }}

{{/* The ControllerConfig document (controller.yaml of the ConfigMap). */}}
{{- define "prescale.controllerConfig" -}}
{{- $p := .Values.prometheus }}
{{- $dir := include "prescale.secretDir" . }}
{{- $prom := dict }}
{{- with $p.timeout }}{{ $_ := set $prom "timeout" . }}{{ end }}
{{- with $p.bearerTokenKey }}{{ $_ := set $prom "bearerTokenFile" (printf "%s/%s" $dir .) }}{{ end }}
{{- if $p.basicAuth.passwordKey }}
{{- $_ := set $prom "basicAuth" (dict "username" $p.basicAuth.username "passwordFile" (printf "%s/%s" $dir $p.basicAuth.passwordKey)) }}
{{- end }}
{{- $tls := dict }}
{{- with $p.tls.caKey }}{{ $_ := set $tls "caFile" (printf "%s/%s" $dir .) }}{{ end }}
{{- with $p.tls.certKey }}{{ $_ := set $tls "certFile" (printf "%s/%s" $dir .) }}{{ end }}
{{- with $p.tls.keyKey }}{{ $_ := set $tls "keyFile" (printf "%s/%s" $dir .) }}{{ end }}
{{- if $p.tls.insecureSkipVerify }}{{ $_ := set $tls "insecureSkipVerify" true }}{{ end }}
{{- if $tls }}{{ $_ := set $prom "tls" $tls }}{{ end }}
{{- with $p.headers }}{{ $_ := set $prom "headers" . }}{{ end }}
{{- with $p.params }}{{ $_ := set $prom "params" . }}{{ end -}}
apiVersion: prescale.dev/v1alpha1
kind: ControllerConfig
metadata:
  name: {{ include "prescale.fullname" . }}
prometheus:
  url: {{ required "prometheus.url is required" $p.url | quote }}
  {{- with $prom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
listen: {{ printf ":%d" (int .Values.port) | quote }}
leaderElection:
  enabled: {{ .Values.leaderElection.enabled }}
  {{- if .Values.leaderElection.enabled }}
  namespace: {{ .Release.Namespace }}
  leaseName: {{ include "prescale.leaseName" . }}
  {{- with .Values.leaderElection.leaseDuration }}
  leaseDuration: {{ . }}
  {{- end }}
  {{- with .Values.leaderElection.renewDeadline }}
  renewDeadline: {{ . }}
  {{- end }}
  {{- with .Values.leaderElection.retryPeriod }}
  retryPeriod: {{ . }}
  {{- end }}
  {{- end }}
{{- with .Values.config.kubernetes }}
kubernetes:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.config.defaults }}
defaults:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.config.hpa }}
hpa:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The Autoscaler documents (autoscalers.yaml of the ConfigMap), one per config.targets entry. */}}
{{- define "prescale.autoscalers" -}}
{{- range $i, $t := .Values.config.targets }}
{{- if $i }}
---
{{ end -}}
apiVersion: prescale.dev/v1alpha1
kind: Autoscaler
metadata:
  name: {{ required (printf "config.targets[%d].name is required" $i) $t.name }}
  {{- with $t.namespace }}
  namespace: {{ . }}
  {{- end }}
spec:
  {{- toYaml (required (printf "config.targets[%d].spec is required" $i) $t.spec) | nindent 2 }}
{{- end }}
{{- end }}
