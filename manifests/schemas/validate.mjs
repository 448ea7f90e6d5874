// Validate custom resources against the upstream prometheus-operator CRD
// schemas as `kubectl apply` against a cluster with the CRDs would, offline.
//
// Usage: node validate.mjs INSTALL_DIR OBJECTS.json
//   INSTALL_DIR   where `npm ci` installed package.json beside this file
//   OBJECTS.json  [{"source": "overlay name", "object": {...}}, ...]
//
// Three checks per object:
// - the validator @kubernetes-models/prometheus-operator compiles from the
//   CRD's openAPIV3Schema: types, enums, patterns, required fields, bounds;
// - no unknown fields. The schema alone accepts them (the API server prunes
//   them), but kubectl's default strict field validation rejects them, and a
//   misspelt optional field would otherwise vanish silently. A field is known
//   when the upstream validator looks at it: swapping its value for one of no
//   JSON type must make the validator complain at that path;
// - PrometheusRule group names unique (a list-map key upstream, which the
//   compiled validator does not enforce; Prometheus rejects duplicates).
// Exit status 0 when every object passes; a custom resource of a group or
// kind with no upstream schema is an error, not a skip.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const PACKAGE = "@kubernetes-models/prometheus-operator";

/** monitoring.coreos.com/v1 + PodMonitor -> MonitoringCoreosComV1PodMonitor.js */
function schemaFile(dir, apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const camel = group
    .split(".")
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("");
  const name = `${camel}${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}.js`;
  return join(dir, "node_modules", PACKAGE, "_schemas", name);
}

async function load(dir, file) {
  return import(pathToFileURL(join(dir, file)).href);
}

/** `path: message` lines, one per distinct error. */
function describe(errors) {
  const lines = errors.map((e) => {
    const extra = e.keyword === "enum" ? ` (${e.params.allowedValues.join(", ")})` : "";
    return `${e.instancePath || "/"}: ${e.message}${extra}`;
  });
  return [...new Set(lines)];
}

/** [parent, key, JSON pointer] of every object member, depth first. */
function* members(node, pointer) {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) yield* members(node[i], `${pointer}/${i}`);
  } else if (node !== null && typeof node === "object") {
    for (const key of Object.keys(node)) {
      const child = `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      yield [node, key, child];
      yield* members(node[key], child);
    }
  }
}

/** A value of no JSON type: every typed schema rejects it. */
const PROBE = Symbol("unknown-field probe");

/** JSON pointers of the members the validator never looks at. */
function unknownFields(validate, object) {
  const unknown = [];
  for (const [parent, key, pointer] of members(object, "")) {
    const saved = parent[key];
    parent[key] = PROBE;
    let seen;
    try {
      validate(object);
      seen = (validate.errors ?? []).some(
        (e) => e.instancePath === pointer || e.instancePath.startsWith(`${pointer}/`),
      );
    } catch {
      seen = true; // the validator touched the value
    }
    parent[key] = saved;
    if (!seen) unknown.push(pointer);
  }
  // Below an unknown field everything is unknown: name the top one only.
  return unknown.filter((p) => !unknown.some((q) => p.startsWith(`${q}/`)));
}

function duplicateGroups(object) {
  if (object.kind !== "PrometheusRule") return [];
  const names = (object.spec?.groups ?? []).map((g) => g?.name);
  return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
}

async function main([dir, objectsFile]) {
  const installed = join(dir, "node_modules", PACKAGE, "package.json");
  if (!existsSync(installed)) {
    console.log(`ERROR ${PACKAGE} is not installed in ${dir}: run \`cargo xtask setup\``);
    return 1;
  }
  const version = JSON.parse(readFileSync(installed, "utf8")).version;
  // The compiled validators carry no messages; ajv-i18n adds them as the
  // package's own runtime does.
  const localize = (await load(dir, "node_modules/ajv-i18n/localize/en/index.js")).default;
  const entries = JSON.parse(readFileSync(objectsFile, "utf8"));
  let checked = 0;
  let failed = 0;
  for (const { source, object } of entries) {
    const meta = object.metadata ?? {};
    const name = `${source}: ${object.kind} ${meta.namespace ?? "-"}/${meta.name}`;
    const file = schemaFile(dir, object.apiVersion ?? "", object.kind ?? "");
    if (!existsSync(file)) {
      console.log(`ERROR ${name}: no upstream schema for ${object.apiVersion} ${object.kind} in ${PACKAGE} ${version}`);
      failed += 1;
      continue;
    }
    const { validate } = await import(pathToFileURL(file).href);
    checked += 1;
    const problems = [];
    const errors = validate(object) ? [] : [...(validate.errors ?? [])];
    localize(errors);
    problems.push(...describe(errors));
    // Under a value of the wrong type every member looks unknown: skip those.
    const wrong = errors.map((e) => e.instancePath);
    const unknown = unknownFields(validate, object).filter(
      (p) => !wrong.some((w) => p === w || p.startsWith(`${w}/`)),
    );
    problems.push(...unknown.map((p) => `${p}: unknown field`));
    problems.push(...duplicateGroups(object).map((n) => `/spec/groups: duplicate group name ${n}`));
    for (const problem of problems) console.log(`ERROR ${name}: ${problem}`);
    failed += problems.length > 0;
  }
  console.log(`custom resources against ${PACKAGE} ${version}: ${checked} checked, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
