// Validate custom resources against the upstream prometheus-operator CRD
// schemas, as the API server's openAPIV3Schema check would, without a cluster.
//
// Usage: node validate.mjs INSTALL_DIR OBJECTS.json
//   INSTALL_DIR   where `npm ci` installed package.json beside this file
//   OBJECTS.json  [{"source": "overlay name", "object": {...}}, ...]
// The validators are the ones @kubernetes-models/prometheus-operator compiles
// from the CRDs' openAPIV3Schema (types, enums, patterns, required fields,
// bounds). Like the CRD schema itself they accept unknown fields (the API
// server prunes those); ../validate_crds.py rejects them.
// Exit status 0 when every object validates; a custom resource of a group or
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

/** `path: message` lines, one per distinct error. */
function describe(errors) {
  const lines = errors.map((e) => {
    const extra =
      e.keyword === "additionalProperties"
        ? ` (${e.params.additionalProperty})`
        : e.keyword === "enum"
          ? ` (${e.params.allowedValues.join(", ")})`
          : "";
    return `${e.instancePath || "/"}: ${e.message}${extra}`;
  });
  return [...new Set(lines)];
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
  const localize = (await import(pathToFileURL(join(dir, "node_modules/ajv-i18n/localize/en/index.js")).href))
    .default;
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
    if (!validate(object)) {
      const errors = validate.errors ?? [];
      localize(errors);
      for (const line of describe(errors)) {
        console.log(`ERROR ${name}: ${line}`);
      }
      failed += 1;
    }
  }
  console.log(`custom resources against ${PACKAGE} ${version}: ${checked} checked, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
