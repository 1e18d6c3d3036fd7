"""OpenAPI post-processing: every operation documents the error answers it can give.

Views declare their success bodies and the errors specific to them; the errors any endpoint can give (bad
input, no or bad credentials, a missing role, an unknown id or page, a conflict, a throttle) are added here
once, in DRF's error shape, so the schema matches what the API really answers (schemathesis checks it).
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": "DRF's error shape: `detail`, or one list of messages per field.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
COMMON = {
    "400": "Invalid input (field errors, or `detail`).",
    "401": "Not authenticated.",
    "403": "Authenticated, but not allowed (the message names the missing role or ownership).",
    "404": "No such object (or page).",
    "429": "Too many requests.",
}
WRITES = {
    "409": "Conflicts with the current state.",
    "413": "The upload is too large.",
    "415": "The upload's type is not supported.",
}


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    reference = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            wanted = {**COMMON, **(WRITES if method != "get" else {"409": WRITES["409"]})}
            for code, description in wanted.items():
                responses.setdefault(code, {"description": description,
                                            "content": {"application/json": {"schema": reference}}})
    return result
