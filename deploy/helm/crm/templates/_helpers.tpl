{{/* Names and labels shared by every template. */}}

{{- define "crm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "crm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one service's objects: (dict "root" $ "name" "customer"). */}}
{{- define "crm.component" -}}
{{- printf "%s-%s" (include "crm.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "crm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: {{ include "crm.name" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "crm.selectorLabels" . }}
{{- end -}}

{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crm.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Labels of the chart's own objects that belong to no one service. */}}
{{- define "crm.commonLabels" -}}
{{ include "crm.labels" (dict "root" . "name" "suite") }}
{{- end -}}

{{- define "crm.secretName" -}}
{{- default (printf "%s-secrets" (include "crm.fullname" .)) .Values.secrets.name -}}
{{- end -}}

{{/* `CRM_CUSTOMER_` for customer, `CRM_SERVICE_DESK_` for service-desk. */}}
{{- define "crm.envPrefix" -}}
{{- printf "CRM_%s_" (.name | upper | replace "-" "_") -}}
{{- end -}}

{{- define "crm.image" -}}
{{- $root := .root -}}
{{- $repository := .svc.image.repository -}}
{{- if $root.Values.image.registry -}}
{{- $repository = printf "%s/%s" $root.Values.image.registry $repository -}}
{{- end -}}
{{- printf "%s:%s" $repository (.svc.image.tag | default $root.Values.image.tag | default $root.Chart.AppVersion) -}}
{{- end -}}

{{/* Subchart names follow the subcharts' own fullname rule. */}}
{{- define "crm.subchartFullname" -}}
{{- if contains .name .root.Release.Name -}}
{{- .root.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "crm.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s:4222" (include "crm.subchartFullname" (dict "root" . "name" "nats")) -}}
{{- else -}}
{{- required "externalNats.url is required when nats.enabled is false" .Values.externalNats.url -}}
{{- end -}}
{{- end -}}

{{/* The port other pods reach a service's metrics on. */}}
{{- define "crm.metricsPort" -}}
{{- if eq .protocol "http" -}}{{ .ports.http }}{{- else -}}{{ .ports.metrics }}{{- end -}}
{{- end -}}

{{/* The environment of one service's containers: (dict "root" $ "name" $name "svc" $svc). */}}
{{- define "crm.env" -}}
{{- $root := .root -}}
{{- $p := include "crm.envPrefix" . -}}
{{- $secret := include "crm.secretName" $root -}}
- name: {{ $p }}DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .name }}-database-url
- name: {{ $p }}NATS_URL
  value: {{ include "crm.natsUrl" $root | quote }}
{{- if eq .svc.protocol "grpc" }}
- name: {{ $p }}NATS_STREAM_REPLICAS
  value: {{ $root.Values.events.streamReplicas | quote }}
{{- end }}
- name: {{ $p }}PRINCIPAL_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: principal-secret
{{- if eq .svc.protocol "http" }}
- name: {{ $p }}HTTP_HOST
  value: "0.0.0.0"
- name: {{ $p }}HTTP_PORT
  value: {{ .svc.ports.http | quote }}
- name: {{ $p }}JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: jwt-secret
- name: CRM_BOOTSTRAP_ADMIN_EMAIL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: bootstrap-admin-email
      optional: true
- name: CRM_BOOTSTRAP_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: bootstrap-admin-password
      optional: true
{{- else }}
- name: {{ $p }}GRPC_HOST
  value: "0.0.0.0"
- name: {{ $p }}GRPC_PORT
  value: {{ .svc.ports.grpc | quote }}
- name: {{ $p }}METRICS_HOST
  value: "0.0.0.0"
- name: {{ $p }}METRICS_PORT
  value: {{ .svc.ports.metrics | quote }}
{{- end }}
{{- range $callee := .svc.calls }}
{{- $target := index $root.Values.services $callee | default dict }}
{{- if or (not $target.enabled) (ne (toString $target.protocol) "grpc") }}
{{- fail (printf "services.%s.calls: %s is not an enabled gRPC service" $.name $callee) }}
{{- end }}
- name: {{ $p }}{{ $callee | upper | replace "-" "_" }}_TARGET
  value: {{ printf "%s:%v" (include "crm.component" (dict "root" $root "name" $callee)) $target.ports.grpc | quote }}
{{- end }}
{{- if $root.Values.otlp.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $root.Values.otlp.endpoint | quote }}
{{- end }}
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $root.Values.otlp.traceSampleRatio | toString | quote }}
{{- range $key, $value := .svc.env }}
- name: {{ $p }}{{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .svc.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
