{{/*
Named templates use the literal "mcp-server." namespace because this file is copied verbatim
from the copier template (Helm and Copier share the {{ }} syntax). The only cost: two charts made
from this template cannot be subcharts of one umbrella chart.
*/}}

{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "mcp-server.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name, truncated to 63 characters (DNS label limit). */}}
{{- define "mcp-server.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "mcp-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mcp-server.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "mcp-server.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "mcp-server.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcp-server.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret holding credentials: the user's existing one, or the chart's. */}}
{{- define "mcp-server.secretName" -}}
{{- default (include "mcp-server.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/* Host headers the server accepts: loopback (port-forward), the Service's own name (in-cluster
callers, `helm test`), ingress hosts, route hostnames, extras. */}}
{{- define "mcp-server.allowedHosts" -}}
{{- $hosts := list "127.0.0.1:*" "localhost:*" (include "mcp-server.fullname" .) (printf "%s:*" (include "mcp-server.fullname" .)) }}
{{- range .Values.allowedHosts }}{{ $hosts = append $hosts . }}{{ end }}
{{- if .Values.ingress.enabled }}
{{- range .Values.ingress.hosts }}{{ $hosts = append $hosts .host }}{{ $hosts = append $hosts (printf "%s:*" .host) }}{{ end }}
{{- end }}
{{- if .Values.httpRoute.enabled }}
{{- range .Values.httpRoute.hostnames }}{{ $hosts = append $hosts . }}{{ $hosts = append $hosts (printf "%s:*" .) }}{{ end }}
{{- end }}
{{- $hosts | uniq | toJson }}
{{- end }}

{{/* terminationGracePeriodSeconds covers the preStop sleep, the drain, and a 5 s margin. */}}
{{- define "mcp-server.terminationGracePeriodSeconds" -}}
{{- add .Values.shutdown.preStopSeconds .Values.shutdown.gracefulSeconds 5 }}
{{- end }}
