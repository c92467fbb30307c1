// sluice.dev/v1alpha1 ClientTrafficPolicy: how clients connect to a Gateway listener (client
// certificates, request limits, client IP detection, timeouts). Field names follow Envoy Gateway's
// ClientTrafficPolicy; it targets Gateways (sectionName: one listener).
import { asArr, asObj } from "../rules/util.js";
import { TARGET_GATEWAY, type PolicyKindSpec } from "./policy-kind.js";

const OBJ = { type: "object" } as const;

const CA_REF = {
  type: "object",
  required: ["name"],
  properties: {
    group: { type: "string", description: '"" (core) for ConfigMap and Secret.' },
    kind: { type: "string", enum: ["ConfigMap", "Secret"], description: "ConfigMap (default) or Secret holding the PEM CA bundle under ca.crt." },
    name: { type: "string", minLength: 1 },
    namespace: { type: "string", minLength: 1, description: "Another namespace needs a ReferenceGrant there." },
  },
} as const;

/** Limits documented here and in the README ("Limits"); defaults applied by the proxy. */
const HEADERS = {
  type: "object",
  properties: {
    maxRequestHeaderBytes: {
      type: "integer",
      minimum: 1024,
      maximum: 8 * 1024 * 1024,
      description: "Largest request head (request line, header names and values) in bytes; larger requests get 431. Default 61440 (60 KiB, as Envoy).",
    },
    maxHeadersCount: {
      type: "integer",
      minimum: 1,
      maximum: 16384,
      description: "Most request header fields; more get 431. Default 100 (as Envoy).",
    },
    xForwardedClientCert: {
      type: "object",
      description: "The client certificate details sent to the backend in X-Forwarded-Client-Cert. Without it: Sanitize on listeners that validate client certificates.",
      properties: {
        mode: {
          type: "string",
          enum: ["Sanitize", "ForwardOnly", "AppendForward", "SanitizeSet", "AlwaysForwardOnly"],
          description:
            "Sanitize (default): drop the header. ForwardOnly: pass the client's header on mTLS connections. AppendForward: append this client's element on mTLS connections. SanitizeSet: replace it with this client's element on mTLS connections. AlwaysForwardOnly: always pass the client's header. Without a verified client certificate, every mode but AlwaysForwardOnly drops it.",
        },
        certDetailsToAdd: {
          type: "array",
          items: { type: "string", enum: ["Subject", "Cert", "Chain", "DNS", "URI"] },
          description: "Elements added besides Hash (and By, the gateway's own URI SAN): AppendForward and SanitizeSet only.",
        },
      },
    },
  },
} as const;

export const CLIENT_TRAFFIC_POLICY: PolicyKindSpec = {
  check(obj, rep) {
    const xfcc = asObj(asObj(asObj(obj.spec)?.headers)?.xForwardedClientCert);
    const mode = xfcc?.mode ?? "Sanitize";
    if (xfcc && asArr(xfcc.certDetailsToAdd).length > 0 && mode !== "AppendForward" && mode !== "SanitizeSet") {
      rep.error(["spec", "headers", "xForwardedClientCert", "certDetailsToAdd"], `certDetailsToAdd has no effect with mode ${String(mode)}`, "mode AppendForward or SanitizeSet, or no certDetailsToAdd");
    }
  },
  kind: "ClientTrafficPolicy",
  targets: [TARGET_GATEWAY],
  sections: {
    tls: {
      scope: "listener",
      schema: {
        type: "object",
        properties: {
          clientValidation: {
            type: "object",
            required: ["caCertificateRefs"],
            description: "HTTPS listeners: ask clients for a certificate and validate it against these CAs (mTLS).",
            properties: {
              optional: { type: "boolean", description: "true: clients without a certificate are let through (a presented certificate must still be valid). Default false: required." },
              caCertificateRefs: { type: "array", minItems: 1, maxItems: 8, items: CA_REF },
            },
          },
        },
      },
    },
    clientIPDetection: {
      scope: "listener",
      schema: { type: "object", properties: { xForwardedFor: { type: "object", required: ["numTrustedHops"], properties: { numTrustedHops: { type: "integer", minimum: 0, maximum: 64 } } } } },
    },
    connection: { scope: "listener", schema: OBJ },
    headers: { scope: "listener", schema: HEADERS },
    path: {
      scope: "listener",
      schema: {
        type: "object",
        properties: {
          maxLength: {
            type: "integer",
            minimum: 16,
            maximum: 8 * 1024 * 1024,
            description: "Longest request target (path and query) in bytes; longer requests get 414. Default 16384 (16 KiB). A target longer than maxRequestHeaderBytes gets 431.",
          },
        },
      },
    },
    timeout: { scope: "listener", schema: OBJ },
  },
};
