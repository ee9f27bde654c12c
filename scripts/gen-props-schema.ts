/**
 * Writes src/constructs/props-schema.ts: the shape of each platform construct's props (every key,
 * its type, optional or required), read from the TypeScript declarations with the compiler API,
 * so the runtime check (props-shape.ts) is exactly as strict as the types. Run after changing a
 * props interface: `npm run gen:props-schema` (test/props-shape.test.ts fails while it is stale).
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import type { Shape } from "../src/constructs/props-shape";

const ROOT = path.join(__dirname, "..");
export const SCHEMA_FILE = path.join(ROOT, "src", "constructs", "props-schema.ts");
const ROOTS: [platform: string, file: string, type: string][] = [
  ["aws", "src/constructs/aws/props.ts", "AwsKubeadmClusterProps"],
  ["gce", "src/constructs/gce/props.ts", "GceKubeadmClusterProps"],
  ["baremetal", "src/constructs/baremetal/baremetal-kubeadm-cluster.ts", "BaremetalKubeadmClusterProps"],
];

export function generatePropsSchema(): string {
  const program = ts.createProgram(
    ROOTS.map(([, file]) => path.join(ROOT, file)),
    { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, skipLibCheck: true, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const objects: Record<string, { properties: Record<string, { shape: Shape; optional: boolean }> }> = {};
  const names = new Map<ts.Type, string>();

  const isUndefined = (t: ts.Type) => (t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Void)) !== 0;

  function shapeOf(type: ts.Type, context: string): Shape {
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return { kind: "any" };
    if (type.isUnion()) {
      context = type.aliasSymbol?.name ?? context;
      const members = type.types.filter((t) => !isUndefined(t));
      const booleans = members.filter((t) => t.flags & ts.TypeFlags.BooleanLiteral);
      const rest = members.filter((t) => !(t.flags & ts.TypeFlags.BooleanLiteral));
      const literals = rest.filter((t) => t.isStringLiteral()).map((t) => (t as ts.StringLiteralType).value);
      const others = rest.filter((t) => !t.isStringLiteral());
      const shapes: Shape[] = [
        ...(booleans.length > 0 ? [{ kind: "boolean" } as Shape] : []),
        // "single" | "none": a string whose choices the field's own validator names; kept to tell union variants apart.
        ...(literals.length > 0 ? [others.some((t) => t.flags & ts.TypeFlags.String) ? { kind: "string" } as Shape : { kind: "string", values: literals } as Shape] : []),
        ...others.filter((t) => !(literals.length > 0 && t.flags & ts.TypeFlags.String)).map((t, i) => shapeOf(t, others.length > 1 ? `${context}#${i + 1}` : context)),
      ];
      const distinct = shapes.filter((s, i) => shapes.findIndex((o) => JSON.stringify(o) === JSON.stringify(s)) === i);
      return distinct.length === 1 ? distinct[0] : { kind: "union", of: distinct };
    }
    if (type.isStringLiteral()) return { kind: "string", values: [type.value] };
    if (type.flags & (ts.TypeFlags.String | ts.TypeFlags.TemplateLiteral)) return { kind: "string" };
    if (type.flags & (ts.TypeFlags.Number | ts.TypeFlags.NumberLiteral)) return { kind: "number" };
    if (type.flags & (ts.TypeFlags.Boolean | ts.TypeFlags.BooleanLiteral)) return { kind: "boolean" };
    if (checker.isArrayType(type) || checker.isTupleType(type)) {
      const element = checker.getTypeArguments(type as ts.TypeReference)[0];
      return { kind: "array", of: element ? shapeOf(element, `${context}[]`) : { kind: "any" } };
    }
    if (type.flags & ts.TypeFlags.Object) {
      if (type.getCallSignatures().length > 0) return { kind: "function" };
      const properties = checker.getPropertiesOfType(type);
      const index = type.getStringIndexType();
      if (index && properties.length === 0) return { kind: "record", of: shapeOf(index, `${context}{}`) };
      return { kind: "object", name: objectName(type, context) };
    }
    throw new Error(`gen-props-schema: no shape for ${checker.typeToString(type)} at ${context}`);
  }

  function objectName(type: ts.Type, context: string): string {
    const known = names.get(type);
    if (known) return known;
    const declared = type.aliasSymbol?.name ?? type.getSymbol()?.name;
    const generic = ["Omit", "Pick", "Partial", "Readonly", "Required"].includes(declared ?? "");
    let name = declared && !declared.startsWith("__") && !generic ? declared : context;
    while (objects[name] && ![...names.entries()].some(([t, n]) => n === name && t === type)) name = `${name}'`;
    names.set(type, name);
    objects[name] = { properties: {} };
    const properties: Record<string, { shape: Shape; optional: boolean }> = {};
    for (const property of checker.getPropertiesOfType(type)) {
      const propertyType = checker.getTypeOfSymbol(property);
      properties[property.name] = { shape: shapeOf(propertyType, `${name}.${property.name}`), optional: (property.flags & ts.SymbolFlags.Optional) !== 0 };
    }
    objects[name] = { properties };
    return name;
  }

  const roots: Record<string, string> = {};
  for (const [platform, file, typeName] of ROOTS) {
    const source = program.getSourceFile(path.join(ROOT, file))!;
    const declaration = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === typeName);
    if (!declaration) throw new Error(`gen-props-schema: no interface ${typeName} in ${file}`);
    const shape = shapeOf(checker.getTypeAtLocation(declaration.name), typeName);
    if (shape.kind !== "object") throw new Error(`gen-props-schema: ${typeName} is not an object type`);
    roots[platform] = shape.name;
  }
  const sorted = Object.fromEntries(Object.keys(objects).sort().map((k) => [k, objects[k]]));
  return [
    "// Generated by scripts/gen-props-schema.ts from the props interfaces: do not edit (npm run gen:props-schema).",
    'import type { PropsSchema } from "./props-shape";',
    "",
    `export const PROPS_SCHEMA: PropsSchema = ${JSON.stringify({ roots, objects: sorted }, null, 2)};`,
    "",
  ].join("\n");
}

if (require.main === module) {
  fs.writeFileSync(SCHEMA_FILE, generatePropsSchema());
  console.log(`gen-props-schema: wrote ${path.relative(ROOT, SCHEMA_FILE)}`);
}
