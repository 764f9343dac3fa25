{{/* Names. */}}
{{- define "livetag.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "livetag.fullname" -}}
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

{{/* CronJob names are limited to 52 characters (the controller appends a suffix). */}}
{{- define "livetag.trainName" -}}
{{- printf "%s-train" (include "livetag.fullname" . | trunc 46 | trimSuffix "-") -}}
{{- end -}}

{{- define "livetag.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "livetag.selectorLabels" -}}
app.kubernetes.io/name: {{ include "livetag.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "livetag.labels" -}}
helm.sh/chart: {{ include "livetag.chart" . }}
{{ include "livetag.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: livetag
{{- end -}}

{{- define "livetag.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "livetag.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "livetag.registryClaim" -}}
{{- default (printf "%s-models" (include "livetag.fullname" .)) .Values.modelRegistry.persistence.existingClaim -}}
{{- end -}}

{{/* image: "livetag.image" (dict "ctx" $ "gpu" true|false) */}}
{{- define "livetag.image" -}}
{{- $v := .ctx.Values.image -}}
{{- $tag := $v.tag | default (printf "%s%s" .ctx.Chart.AppVersion (ternary "-cuda" "" .gpu)) -}}
{{- printf "%s:%s" $v.repository $tag -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: the drain deadline rounded up, plus a margin. */}}
{{- define "livetag.terminationGrace" -}}
{{- $ms := int (index .Values.config "LIVETAG_DRAIN_TIMEOUT_MS" | default "20000") -}}
{{- add (div (add $ms 999) 1000) (int .Values.terminationGraceExtraSeconds) -}}
{{- end -}}

{{/* Mounted secret paths. */}}
{{- define "livetag.saslDir" -}}/var/run/secrets/livetag/kafka-sasl{{- end -}}
{{- define "livetag.tlsDir" -}}/var/run/secrets/livetag/kafka-tls{{- end -}}

{{/*
Settings derived from other values: refused in .Values.config so each has one
source of truth.
*/}}
{{- define "livetag.derivedSettings" -}}
{{- list "LIVETAG_KAFKA_BROKERS" "LIVETAG_KAFKA_CLIENT_ID" "LIVETAG_KAFKA_CLIENT" "LIVETAG_INPUT_TOPIC" "LIVETAG_OUTPUT_TOPIC" "LIVETAG_DLQ_TOPIC" "LIVETAG_GROUP_ID" "LIVETAG_MODEL_TOPIC" "LIVETAG_MODEL" "LIVETAG_REGISTRY" "LIVETAG_DEVICE" "LIVETAG_HTTP_HOST" "LIVETAG_HTTP_PORT" "LIVETAG_KAFKA_SASL_MECHANISM" "LIVETAG_KAFKA_SASL_USERNAME" "LIVETAG_KAFKA_SASL_PASSWORD_FILE" "LIVETAG_KAFKA_TLS" "LIVETAG_KAFKA_TLS_CA_FILE" "LIVETAG_KAFKA_TLS_CERT_FILE" "LIVETAG_KAFKA_TLS_KEY_FILE" | toJson -}}
{{- end -}}

{{/* Checks that fail the render with a message naming the value to fix. */}}
{{- define "livetag.validate" -}}
{{- $derived := include "livetag.derivedSettings" . | fromJsonArray -}}
{{- range $k, $v := .Values.config -}}
{{- if has $k $derived -}}
{{- fail (printf "config.%s is derived by the chart (see kafka.*, modelRegistry.*, gpu.*, http.*); set it there" $k) -}}
{{- end -}}
{{- if not (hasPrefix "LIVETAG_" $k) -}}
{{- fail (printf "config.%s: only LIVETAG_* settings belong in config (use extraEnv for others)" $k) -}}
{{- end -}}
{{- end -}}
{{- $a := .Values.autoscaling -}}
{{- if ne $a.mode "none" -}}
{{- if gt (int $a.maxReplicas) (int .Values.kafka.inputPartitions) -}}
{{- fail (printf "autoscaling.maxReplicas (%d) exceeds kafka.inputPartitions (%d): consumers beyond the partition count sit idle" (int $a.maxReplicas) (int .Values.kafka.inputPartitions)) -}}
{{- end -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "autoscaling.minReplicas (%d) exceeds autoscaling.maxReplicas (%d)" (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.kafka.sasl.enabled (not .Values.kafka.sasl.secretName) -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.secretName (a Secret with the user name and password)" -}}
{{- end -}}
{{- if and .Values.kafka.tls.enabled (ne (empty .Values.kafka.tls.certKey) (empty .Values.kafka.tls.keyKey)) -}}
{{- fail "kafka.tls.certKey and kafka.tls.keyKey go together (mutual TLS)" -}}
{{- end -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.certKey (not .Values.kafka.tls.secretName) -}}
{{- fail "kafka.tls.certKey needs kafka.tls.secretName" -}}
{{- end -}}
{{- if and .Values.train.enabled (not .Values.modelRegistry.enabled) -}}
{{- fail "train.enabled needs modelRegistry.enabled (the job publishes into the registry)" -}}
{{- end -}}
{{- end -}}

{{/* Pod volumes for Kafka secrets, the registry and /tmp. "livetag.volumes" (dict "ctx" $ "readOnlyRegistry" bool) */}}
{{- define "livetag.kafkaSecretVolumes" -}}
{{- $k := .Values.kafka -}}
{{- if $k.sasl.enabled }}
- name: kafka-sasl
  secret:
    secretName: {{ $k.sasl.secretName }}
    items:
      - key: {{ $k.sasl.passwordKey }}
        path: password
{{- end }}
{{- if and $k.tls.enabled $k.tls.secretName }}
- name: kafka-tls
  secret:
    secretName: {{ $k.tls.secretName }}
    items:
      - key: {{ $k.tls.caKey }}
        path: ca.crt
      {{- if $k.tls.certKey }}
      - key: {{ $k.tls.certKey }}
        path: tls.crt
      - key: {{ $k.tls.keyKey }}
        path: tls.key
      {{- end }}
{{- end }}
{{- end -}}

{{- define "livetag.kafkaSecretMounts" -}}
{{- $k := .Values.kafka -}}
{{- if $k.sasl.enabled }}
- name: kafka-sasl
  mountPath: {{ include "livetag.saslDir" . }}
  readOnly: true
{{- end }}
{{- if and $k.tls.enabled $k.tls.secretName }}
- name: kafka-tls
  mountPath: {{ include "livetag.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The Kafka connection as pod env, for pods that do not read the serve
ConfigMap (the retrain CronJob): the same values, so train --labels-topic and
the promotion announcement log in exactly as the Deployment does.
*/}}
{{- define "livetag.kafkaClientEnv" -}}
{{- $k := .Values.kafka }}
- name: LIVETAG_KAFKA_CLIENT
  value: {{ $k.client | default "kafkajs" | quote }}
{{- if $k.sasl.enabled }}
- name: LIVETAG_KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: LIVETAG_KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "%s/password" (include "livetag.saslDir" .) | quote }}
{{- end }}
- name: LIVETAG_KAFKA_TLS
  value: {{ $k.tls.enabled | toString | quote }}
{{- if and $k.tls.enabled $k.tls.secretName }}
- name: LIVETAG_KAFKA_TLS_CA_FILE
  value: {{ printf "%s/ca.crt" (include "livetag.tlsDir" .) | quote }}
{{- end }}
{{- if and $k.tls.enabled $k.tls.certKey }}
- name: LIVETAG_KAFKA_TLS_CERT_FILE
  value: {{ printf "%s/tls.crt" (include "livetag.tlsDir" .) | quote }}
- name: LIVETAG_KAFKA_TLS_KEY_FILE
  value: {{ printf "%s/tls.key" (include "livetag.tlsDir" .) | quote }}
{{- end }}
{{- include "livetag.kafkaSecretEnv" . }}
{{- end -}}

{{/* Env from Secrets (the SASL user name). */}}
{{- define "livetag.kafkaSecretEnv" -}}
{{- if .Values.kafka.sasl.enabled }}
- name: LIVETAG_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.secretName }}
      key: {{ .Values.kafka.sasl.usernameKey }}
{{- end }}
{{- end -}}

{{/* Pod anti-affinity merged with .Values.affinity. */}}
{{- define "livetag.affinity" -}}
{{- $aff := deepCopy (.Values.affinity | default dict) -}}
{{- $term := dict "labelSelector" (dict "matchLabels" (include "livetag.selectorLabels" . | fromYaml)) "topologyKey" .Values.podAntiAffinityTopologyKey -}}
{{- if eq .Values.podAntiAffinity "soft" -}}
{{- $_ := set $aff "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) -}}
{{- else if eq .Values.podAntiAffinity "hard" -}}
{{- $_ := set $aff "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) -}}
{{- end -}}
{{- if $aff }}
{{- toYaml $aff }}
{{- end }}
{{- end -}}

{{/* The selector of every alert rule. */}}
{{- define "livetag.alertSelector" -}}
{{- .Values.metrics.prometheusRule.selector | default (printf "namespace=%q, job=%q" .Release.Namespace (include "livetag.fullname" .)) -}}
{{- end -}}
