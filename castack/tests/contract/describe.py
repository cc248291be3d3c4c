"""Checks castack's answers against descriptions nobody here wrote.

Run by the contract tests (`descriptions.rs`) with the stack tools' Python, which
has botocore (pinned with moto in xtask/tools/stack.txt). Reads one JSON document on
stdin: {"botocore": [...], "openapi": {"file": PATH, "answers": [...]},
"pep691": [...]}, and prints a JSON list of violations (empty when all agree) and
a summary of what was checked.

- botocore: each answer {"service", "operation", "status", "headers", "body"} is
  held against the service model (botocore/data/<service>/<version>/service-2.json):
  a success against the operation's output shape and status; an error's code
  (rest-json: x-amzn-ErrorType; query: <Code>) must be one of the operation's
  modeled errors with the modeled status, or one of the common errors the test
  names (`accepted_errors`), and its body must have the error shape's members.
  Shapes: required members, member types, enums, patterns, min/max, no member the
  model does not have.
- openapi: each answer {"method", "path", "status", "body"} against GitHub's
  OpenAPI description (@octokit/openapi, api.github.com.json): the operation of
  the path template and method, the documented response of that status (an
  undocumented status is held against `basic-error` and reported as such), its
  JSON schema (type, required, properties, additionalProperties, nullable, enum,
  allOf/anyOf/oneOf, items, pattern, minimum/maximum, minItems/maxItems).
- pep691: each project page against PEP 691 (with PEP 700's additions):
  https://peps.python.org/pep-0691/#project-detail and
  https://peps.python.org/pep-0700/.
"""

import json
import re
import sys
import xml.etree.ElementTree as ET

from botocore.loaders import Loader

VIOLATIONS = []
CHECKED = {"botocore": 0, "openapi": 0, "pep691": 0, "undocumented": []}


def violation(where, what):
    VIOLATIONS.append(f"{where}: {what}")


# -- botocore service models ---------------------------------------------------

# The models' patterns are Java regular expressions; Python's `re` lacks Unicode
# property classes, so the few the CodeArtifact and STS models use are spelled out:
# C (control and format characters, the ones a text can carry), IsWhitespace, and L,
# Z, N (letters, separators, digits: \w and \s, close enough for the values
# castack sends, which are ASCII).
CONTROL = "\\x00-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\ufeff"
JAVA_CLASSES = [
    (r"[^\p{C}\p{IsWhitespace}]", f"[^{CONTROL}\\s]"),
    (r"[\P{C}\s]", f"[^{CONTROL}]"),
    (r"\P{C}", f"[^{CONTROL}]"),
    (r"\p{L}", "\\w"),
    (r"\p{Z}", "\\s"),
    (r"\p{N}", "\\d"),
]


def python_regex(pattern):
    for java, python in JAVA_CLASSES:
        pattern = pattern.replace(java, python)
    return pattern


class Model:
    def __init__(self, service):
        self.service = service
        self.model = Loader().load_service_model(service, "service-2")
        self.shapes = self.model["shapes"]
        self.protocol = self.model["metadata"]["protocol"]

    def check_value(self, where, shape_name, value):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            self.check_structure(where, shape_name, value, body_only=False)
        elif kind == "list":
            if not isinstance(value, list):
                return violation(where, f"{shape_name} must be a list, not {value!r:.80}")
            self.check_range(where, shape_name, shape, len(value))
            for i, item in enumerate(value):
                self.check_value(f"{where}[{i}]", shape["member"]["shape"], item)
        elif kind == "map":
            if not isinstance(value, dict):
                return violation(where, f"{shape_name} must be an object")
            for key, item in value.items():
                self.check_value(f"{where}.<key>", shape["key"]["shape"], key)
                self.check_value(f"{where}[{key}]", shape["value"]["shape"], item)
        elif kind == "string":
            if not isinstance(value, str):
                return violation(where, f"{shape_name} must be a string, not {value!r:.80}")
            if "enum" in shape and value not in shape["enum"]:
                violation(where, f"{value!r} is not one of {shape['enum']} ({shape_name})")
            if "pattern" in shape and not re.fullmatch(python_regex(shape["pattern"]), value):
                violation(where, f"{value!r:.80} does not match {shape['pattern']} ({shape_name})")
            self.check_range(where, shape_name, shape, len(value))
        elif kind in ("integer", "long"):
            if not isinstance(value, int) or isinstance(value, bool):
                return violation(where, f"{shape_name} must be an integer, not {value!r:.80}")
            self.check_range(where, shape_name, shape, value)
        elif kind == "boolean":
            if not isinstance(value, bool):
                violation(where, f"{shape_name} must be a boolean")
        elif kind == "timestamp":
            if self.protocol == "rest-json" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                violation(where, f"{shape_name} must be epoch seconds (a number), not {value!r:.80}")
            if self.protocol == "query" and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", str(value)):
                violation(where, f"{shape_name} must be an ISO 8601 time, not {value!r:.80}")
        else:
            violation(where, f"no check for shape type {kind}")

    def check_range(self, where, shape_name, shape, n):
        if "min" in shape and n < shape["min"]:
            violation(where, f"{n} is below the minimum {shape['min']} of {shape_name}")
        if "max" in shape and n > shape["max"]:
            violation(where, f"{n} is above the maximum {shape['max']} of {shape_name}")

    def check_structure(self, where, shape_name, value, body_only):
        shape = self.shapes[shape_name]
        if not isinstance(value, dict):
            return violation(where, f"{shape_name} must be an object, not {value!r:.80}")
        members = {
            name: member
            for name, member in shape.get("members", {}).items()
            if not (body_only and member.get("location") in ("header", "headers", "querystring", "uri", "statusCode"))
        }
        for name in shape.get("required", []):
            if name in members and value.get(name) is None:
                violation(where, f"required member {name} of {shape_name} is missing")
        for name, item in value.items():
            if name == "__type" and body_only:
                continue
            if name not in members:
                violation(where, f"{name} is no member of {shape_name}")
            elif item is not None:
                self.check_value(f"{where}.{name}", members[name]["shape"], item)

    def check_answer(self, answer, accepted_errors):
        op = self.model["operations"][answer["operation"]]
        where = f"{self.service} {answer['operation']} {answer['status']}"
        status = answer["status"]
        if 200 <= status < 300:
            want = op["http"].get("responseCode", 200)
            if status != want:
                violation(where, f"a success answers {want}")
            if "output" in op:
                body = self.output_body(where, op, answer["body"])
                if body is not None:
                    self.check_structure(where, op["output"]["shape"], body, body_only=True)
            return
        code, body = self.error_code_and_body(where, answer)
        if code is None:
            return
        modeled = {self.shapes[e["shape"]].get("error", {}).get("code", e["shape"]): e["shape"] for e in op.get("errors", [])}
        if code in modeled:
            shape = self.shapes[modeled[code]]
            if shape["error"]["httpStatusCode"] != status:
                violation(where, f"{code} is modeled with status {shape['error']['httpStatusCode']}")
            self.check_structure(f"{where} {code}", modeled[code], body, body_only=True)
        elif code in accepted_errors:
            if accepted_errors[code] != status:
                violation(where, f"{code} is answered with {accepted_errors[code]}")
            CHECKED["undocumented"].append(f"{self.service} {answer['operation']}: {code} {status} (common error)")
        else:
            violation(where, f"{code} is neither a modeled error of the operation nor a named common error")

    def output_body(self, where, op, text):
        if self.protocol == "rest-json":
            return json.loads(text) if text.strip() else {}
        root = ET.fromstring(text)
        wrapper = op["output"].get("resultWrapper")
        result = next((child for child in root if child.tag.endswith(wrapper)), None)
        if result is None:
            violation(where, f"no <{wrapper}> in the answer")
            return None
        return self.xml_value(op["output"]["shape"], result)

    def xml_value(self, shape_name, element):
        """An XML element of the query protocol as JSON of the model's types."""
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            out = {}
            for child in element:
                name = child.tag.split("}")[-1]
                member = shape.get("members", {}).get(name)
                out[name] = self.xml_value(member["shape"], child) if member else child.text
            return out
        if kind == "list":
            return [self.xml_value(shape["member"]["shape"], child) for child in element]
        text = element.text or ""
        if kind in ("integer", "long"):
            return int(text) if text.lstrip("-").isdigit() else text
        if kind == "boolean":
            return {"true": True, "false": False}.get(text, text)
        return text

    def error_code_and_body(self, where, answer):
        if self.protocol == "rest-json":
            code = answer["headers"].get("x-amzn-errortype", "").split(":")[0] or None
            body = json.loads(answer["body"])
            if code is None or body.get("__type") != code:
                violation(where, f"error without a matching x-amzn-ErrorType and __type: {answer}")
            return code, body
        root = ET.fromstring(answer["body"])
        error = next((child for child in root if child.tag.endswith("Error")), None)
        if error is None:
            violation(where, "no <Error> in the error answer")
            return None, None
        fields = {child.tag.split("}")[-1]: child.text for child in error}
        if fields.get("Type") not in ("Sender", "Receiver"):
            violation(where, f"<Type> must be Sender or Receiver: {fields}")
        return fields.get("Code"), {"message": fields.get("Message")}


def check_botocore(answers, accepted_errors):
    models = {}
    for answer in answers:
        service = answer["service"]
        models.setdefault(service, Model(service))
        models[service].check_answer(answer, accepted_errors.get(service, {}))
        CHECKED["botocore"] += 1


# -- GitHub's OpenAPI description ------------------------------------------------


class OpenApi:
    def __init__(self, path):
        with open(path, encoding="utf-8") as file:
            self.doc = json.load(file)
        self.templates = []
        for template, item in self.doc["paths"].items():
            regex = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
            self.templates.append((re.compile(regex), template, item))

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def check_answer(self, answer):
        method, path, status = answer["method"].lower(), answer["path"], str(answer["status"])
        where = f"{answer['method']} {path} {status}"
        found = [(template, item) for regex, template, item in self.templates if regex.match(path)]
        # A literal template wins over one with a parameter in its place.
        found.sort(key=lambda it: it[0].count("{"))
        if not found or method not in found[0][1]:
            return violation(where, "no such operation in the description")
        template, item = found[0]
        op = item[method]
        where = f"{op['operationId']} {status}"
        response = op["responses"].get(status)
        if response is None:
            CHECKED["undocumented"].append(f"{op['operationId']}: {status} (checked against basic-error)")
            schema = {"$ref": "#/components/schemas/basic-error"}
        else:
            response = self.resolve(response)
            content = response.get("content", {})
            if not content:
                if answer["body"].strip():
                    violation(where, "the description has no body for this answer")
                CHECKED["openapi"] += 1
                return
            schema = content.get("application/json", next(iter(content.values()))).get("schema", {})
        try:
            body = json.loads(answer["body"])
        except ValueError:
            return violation(where, "the body is not JSON")
        self.check(where, schema, body)
        CHECKED["openapi"] += 1

    def declared(self, schema):
        """The property names an alternative declares (with its allOf parts)."""
        schema = self.resolve(schema)
        names = set(schema.get("properties", {}))
        for sub in schema.get("allOf", []):
            names |= self.declared(sub)
        return names

    def check_alternatives(self, where, alternatives, value, key):
        """At least one alternative must hold. GitHub's alternatives overlap (a loose
        object matches several, and `oneOf` is held to the same rule); for an object
        only the alternatives that declare the most of its properties count, so a
        team reviewer is held to `team`, not to a rule that declares nothing of it."""
        if isinstance(value, dict):
            scores = [len(self.declared(alt) & set(value)) for alt in alternatives]
            alternatives = [alt for alt, score in zip(alternatives, scores) if score == max(scores)]
        errors = []
        for alt in alternatives:
            before = len(VIOLATIONS)
            self.check(where, alt, value)
            errors.append(VIOLATIONS[before:])
            del VIOLATIONS[before:]
        if all(errors):
            best = min(errors, key=len)
            violation(where, f"matches none of {key}; the closest: {best}")

    def check(self, where, schema, value):
        schema = self.resolve(schema)
        if value is None:
            if not schema.get("nullable") and schema.get("type") not in (None, "null"):
                violation(where, "null where the description has no nullable")
            return
        for sub in schema.get("allOf", []):
            self.check(where, sub, value)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                self.check_alternatives(where, schema[key], value, key)
        kind = schema.get("type")
        types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
        if kind in types and (not isinstance(value, types[kind]) or (kind in ("integer", "number") and isinstance(value, bool))):
            return violation(where, f"must be {kind}, not {json.dumps(value)[:80]}")
        if "enum" in schema and value not in schema["enum"]:
            violation(where, f"{value!r} is not one of {schema['enum']}")
        if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
            violation(where, f"{value!r} does not match {schema['pattern']}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                violation(where, f"{value} is below {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                violation(where, f"{value} is above {schema['maximum']}")
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
                violation(where, f"{len(value)} items is outside minItems/maxItems")
            for i, item in enumerate(value):
                self.check(f"{where}[{i}]", schema.get("items", {}), item)
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            for name in schema.get("required", []):
                if name not in value:
                    violation(where, f"required property {name} is missing")
            extra = schema.get("additionalProperties", True)
            for name, item in value.items():
                if name in properties:
                    self.check(f"{where}.{name}", properties[name], item)
                elif extra is False:
                    violation(where, f"{name} is not a property of the description")
                elif isinstance(extra, dict):
                    self.check(f"{where}.{name}", extra, item)


# -- PEP 691 -----------------------------------------------------------------------


def check_pep691(page):
    where = f"simple index {page['path']}"
    CHECKED["pep691"] += 1
    if page["content_type"].split(";")[0].strip() != "application/vnd.pypi.simple.v1+json":
        violation(where, f"Content-Type {page['content_type']} is not application/vnd.pypi.simple.v1+json")
    body = json.loads(page["body"])
    version = body.get("meta", {}).get("api-version")
    if not isinstance(version, str) or not re.fullmatch(r"1\.\d+", version):
        violation(where, f"meta.api-version must be \"1.x\": {version!r}")
    name = body.get("name")
    if not isinstance(name, str) or name != re.sub(r"[-_.]+", "-", name).lower():
        violation(where, f"name must be the normalized project name: {name!r}")
    if "versions" in body and not (isinstance(body["versions"], list) and all(isinstance(v, str) for v in body["versions"])):
        violation(where, "versions (PEP 700) must be a list of strings")
    files = body.get("files")
    if not isinstance(files, list):
        return violation(where, "files must be a list")
    allowed = {"filename", "url", "hashes", "requires-python", "dist-info-metadata", "core-metadata", "gpg-sig", "yanked", "size", "upload-time"}
    for i, file in enumerate(files):
        at = f"{where} files[{i}]"
        for key in ("filename", "url", "hashes"):
            if key not in file:
                violation(at, f"{key} is required")
        if set(file) - allowed:
            violation(at, f"keys PEP 691/700 do not define: {sorted(set(file) - allowed)}")
        hashes = file.get("hashes", {})
        if not isinstance(hashes, dict) or any(not re.fullmatch(r"[0-9a-f]+", v) for v in hashes.values()):
            violation(at, "hashes must map hash names to lower-case hex digests")
        for key in ("dist-info-metadata", "core-metadata"):
            if key in file and not isinstance(file[key], (bool, dict)):
                violation(at, f"{key} must be a boolean or a dictionary of hashes")
        if "yanked" in file and not isinstance(file["yanked"], (bool, str)):
            violation(at, "yanked must be a boolean or a reason")
        if "gpg-sig" in file and not isinstance(file["gpg-sig"], bool):
            violation(at, "gpg-sig must be a boolean")
        if "requires-python" in file and not isinstance(file["requires-python"], str):
            violation(at, "requires-python must be a string")
        if "size" in file and not (isinstance(file["size"], int) and not isinstance(file["size"], bool) and file["size"] >= 0):
            violation(at, "size (PEP 700) must be a non-negative integer")
        if "upload-time" in file and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", str(file["upload-time"])):
            violation(at, f"upload-time (PEP 700) must be ISO 8601 UTC with a Z: {file['upload-time']!r}")


def main():
    request = json.load(sys.stdin)
    check_botocore(request.get("botocore", []), request.get("accepted_errors", {}))
    if "openapi" in request:
        description = OpenApi(request["openapi"]["file"])
        for answer in request["openapi"]["answers"]:
            description.check_answer(answer)
    for page in request.get("pep691", []):
        check_pep691(page)
    print(json.dumps({"violations": VIOLATIONS, "checked": CHECKED}))


main()
