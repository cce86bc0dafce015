"""The public API's OpenAPI 3.1 description, served at /api/v1/openapi.json.

Written by hand, next to the code it describes; tests/test_api.py validates every response the
tests get against it (openapi-core), so a field added to an answer (or to the page's JSON-LD,
which the answer contains) fails there until it is described here too.
"""

_REF = "#/components/schemas/"
_PROBLEM = {"application/problem+json": {"schema": {"$ref": _REF + "Problem"}}}
_HEADERS_200 = {
    "ETag": {"required": True, "schema": {"type": "string"},
             "description": "A hash of the body; send it back in If-None-Match."},
    "Cache-Control": {"required": True, "schema": {"type": "string", "const": "public, max-age=60"}},
    "Access-Control-Allow-Origin": {"required": True, "schema": {"type": "string", "const": "*"}},
}
_NOT_MODIFIED = {"description": "Not modified since the ETag sent in If-None-Match.",
                 "headers": {"ETag": _HEADERS_200["ETag"]}}
_BAD = {"description": "A parameter is not valid; `invalid-params` says which and why.",
        "content": _PROBLEM}
_TOO_MANY = {"description": "Too many requests from this client address; see Retry-After.",
             "content": _PROBLEM}
_NOT_FOUND = {"description": "No public gathering at this address (drafts are never public).",
              "content": _PROBLEM}
_PREFLIGHT = {
    "summary": "CORS preflight",
    "responses": {"200": {"description": "Every origin may GET; nothing is sent with a body.",
                          "headers": {
                              "Access-Control-Allow-Origin": _HEADERS_200["Access-Control-Allow-Origin"],
                              "Access-Control-Allow-Methods": {"required": True,
                                                               "schema": {"type": "string"}},
                          }},
                  "429": _TOO_MANY},
}


def _string(**more) -> dict:
    return {"type": "string", **more}


_URL = _string(format="uri")

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Klynge RSVP public API",
        "version": "1.0.0",
        "summary": "The network's public gatherings, read-only.",
        "description": (
            "Upcoming and past gatherings as schema.org Events (the same data as each "
            "gathering page's JSON-LD), with seats, the registration deadline, the status "
            "and links. Read-only, open to every origin (CORS), no credentials, no cookies. "
            "Answers may be cached for 60 seconds and revalidated with If-None-Match. "
            "Requests are limited per client address (429 with Retry-After). Errors are "
            "RFC 9457 problems (application/problem+json) in the language of "
            "Accept-Language (nb, nn or en)."),
    },
    "servers": [{"url": "/api/v1"}],
    "paths": {
        "/gatherings": {
            "get": {
                "operationId": "listGatherings",
                "summary": "One page of upcoming or past public gatherings",
                "parameters": [
                    {"name": "when", "in": "query", "schema": {"enum": ["upcoming", "past"],
                                                               "default": "upcoming"},
                     "description": "upcoming: not yet ended, soonest first. past: ended, "
                                    "latest first."},
                    {"name": "page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 999999999,
                                "default": 1}},
                    {"name": "per_page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                ],
                "responses": {
                    "200": {"description": "The page, with the total and links to other pages "
                                           "(also in the Link header, RFC 8288).",
                            "headers": {**_HEADERS_200,
                                        "Link": {"required": True, "schema": {"type": "string"}}},
                            "content": {"application/json": {
                                "schema": {"$ref": _REF + "GatheringPage"}}}},
                    "304": _NOT_MODIFIED,
                    "400": _BAD,
                    "429": _TOO_MANY,
                },
            },
            "options": _PREFLIGHT,
        },
        "/gatherings/{slug}": {
            "parameters": [{"name": "slug", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "get": {
                "operationId": "getGathering",
                "summary": "One public gathering",
                "responses": {
                    "200": {"description": "The gathering.", "headers": _HEADERS_200,
                            "content": {"application/json": {
                                "schema": {"$ref": _REF + "Gathering"}}}},
                    "304": _NOT_MODIFIED,
                    "404": _NOT_FOUND,
                    "429": _TOO_MANY,
                },
            },
            "options": _PREFLIGHT,
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenAPI",
                "summary": "This description",
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "headers": _HEADERS_200,
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "304": _NOT_MODIFIED,
                    "429": _TOO_MANY,
                },
            },
            "options": _PREFLIGHT,
        },
    },
    "components": {"schemas": {
        "GatheringPage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["items", "when", "page", "perPage", "total", "pages", "links"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": _REF + "Gathering"}},
                "when": {"enum": ["upcoming", "past"]},
                "page": {"type": "integer", "minimum": 1},
                "perPage": {"type": "integer", "minimum": 1, "maximum": 100},
                "total": {"type": "integer", "minimum": 0},
                "pages": {"type": "integer", "minimum": 1},
                "links": {
                    "type": "object", "additionalProperties": False,
                    "required": ["self", "first", "last"],
                    "properties": {rel: _URL for rel in ("self", "first", "last", "prev", "next")},
                },
            },
        },
        "Gathering": {
            "description": "A schema.org Event (as in the page's JSON-LD) with the API's fields.",
            "type": "object",
            "additionalProperties": False,
            "required": ["@context", "@type", "name", "url", "startDate", "endDate",
                         "eventStatus", "eventAttendanceMode", "location", "organizer",
                         "isAccessibleForFree", "inLanguage", "identifier", "status",
                         "registration", "links"],
            "properties": {
                "@context": {"const": "https://schema.org"},
                "@type": {"const": "Event"},
                "name": _string(),
                "description": _string(),
                "url": _URL,
                "startDate": _string(format="date-time",
                                     description="Local time with its UTC offset."),
                "endDate": _string(format="date-time"),
                "previousStartDate": _string(
                    format="date-time",
                    description="The start before the gathering was moved or postponed."),
                "subEvent": {
                    "type": "array", "description": "The programme, in order of start time.",
                    "items": {"$ref": _REF + "ProgrammeItem"},
                },
                "eventStatus": {"enum": ["https://schema.org/EventScheduled",
                                         "https://schema.org/EventRescheduled",
                                         "https://schema.org/EventPostponed",
                                         "https://schema.org/EventCancelled"]},
                "eventAttendanceMode": {
                    "enum": ["https://schema.org/OfflineEventAttendanceMode",
                             "https://schema.org/OnlineEventAttendanceMode",
                             "https://schema.org/MixedEventAttendanceMode"],
                    "description": "In person (Offline), online, or hybrid (Mixed)."},
                "location": {
                    "description": "The room (Place), online (VirtualLocation, whose url is the "
                                   "gathering's page, never the meeting link), or both (hybrid).",
                    "oneOf": [
                        {"$ref": _REF + "Place"},
                        {"$ref": _REF + "VirtualLocation"},
                        {"type": "array", "minItems": 2, "maxItems": 2,
                         "prefixItems": [{"$ref": _REF + "Place"},
                                         {"$ref": _REF + "VirtualLocation"}],
                         "items": False},
                    ]},
                "organizer": {
                    "type": "object", "additionalProperties": False,
                    "required": ["@type", "name", "url"],
                    "properties": {"@type": {"const": "Organization"}, "name": _string(),
                                   "url": _URL},
                },
                "isAccessibleForFree": {"type": "boolean"},
                "inLanguage": _string(),
                "identifier": _string(description="The gathering's address (slug): "
                                                  "/gatherings/{identifier}."),
                "maximumAttendeeCapacity": {"type": "integer", "minimum": 0,
                                            "description": "Absent: no limit on seats."},
                "remainingAttendeeCapacity": {"type": "integer", "minimum": 0},
                "status": {"enum": ["published", "postponed", "cancelled"]},
                "registration": {
                    "type": "object", "additionalProperties": False,
                    "required": ["open", "deadline", "full"],
                    "properties": {
                        "open": {"type": "boolean", "description":
                                 "Registration is accepted now (to the waiting list when full)."},
                        "deadline": {"type": ["string", "null"], "format": "date-time",
                                     "description": "In UTC; null: until the start."},
                        "full": {"type": "boolean", "description": "No seat left."},
                    },
                },
                "links": {
                    "type": "object", "additionalProperties": False,
                    "required": ["self", "page", "ics"],
                    "properties": {"self": _URL, "page": _URL, "ics": _URL},
                },
            },
        },
        "ProgrammeItem": {
            "type": "object", "additionalProperties": False,
            "required": ["@type", "name", "startDate"],
            "properties": {
                "@type": {"const": "Event"},
                "name": _string(),
                "startDate": _string(format="date-time"),
                "endDate": _string(format="date-time"),
                "performer": {
                    "type": "array",
                    "description": "The speakers (Person, with their organisation), or only "
                                   "the organisation that speaks.",
                    "items": {
                        "type": "object", "additionalProperties": False,
                        "required": ["@type", "name"],
                        "properties": {
                            "@type": {"enum": ["Person", "Organization"]},
                            "name": _string(),
                            "affiliation": {
                                "type": "object", "additionalProperties": False,
                                "required": ["@type", "name"],
                                "properties": {"@type": {"const": "Organization"},
                                               "name": _string()},
                            },
                        },
                    },
                },
            },
        },
        "Place": {
            "type": "object", "additionalProperties": False,
            "required": ["@type", "name", "address"],
            "properties": {
                "@type": {"const": "Place"},
                "name": _string(),
                "address": {
                    "type": "object", "additionalProperties": False,
                    "required": ["@type", "addressCountry"],
                    "properties": {"@type": {"const": "PostalAddress"},
                                   "addressCountry": _string(), "postalCode": _string(),
                                   "addressLocality": _string(), "streetAddress": _string()},
                },
            },
        },
        "VirtualLocation": {
            "type": "object", "additionalProperties": False,
            "required": ["@type", "url"],
            "properties": {"@type": {"const": "VirtualLocation"}, "url": _URL},
        },
        "Problem": {
            "description": "RFC 9457 problem details.",
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": _string(),
                "title": _string(),
                "status": {"type": "integer"},
                "detail": _string(),
                "invalid-params": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": False,
                              "required": ["name", "reason"],
                              "properties": {"name": _string(), "reason": _string()}},
                },
            },
        },
    }},
}


# --- the organiser API (api/organiser.py): with an organiser's key, private, no CORS -----------

_PRIVATE = {"Cache-Control": {"required": True,
                              "schema": {"type": "string", "const": "private, no-store"}}}
_CHALLENGE = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"},
                                   "description": "RFC 6750: Bearer, with error=\"invalid_token\" "
                                                  "or error=\"insufficient_scope\"."}}
_ORGANISER_ERRORS = {
    "400": {"description": "A parameter is not valid; `invalid-params` says which and why.",
            "headers": _PRIVATE, "content": _PROBLEM},
    "401": {"description": "No key, or one that is malformed, unknown, revoked or expired, or "
                           "whose organiser's account is deactivated.",
            "headers": {**_PRIVATE, **_CHALLENGE}, "content": _PROBLEM},
    "403": {"description": "The key lacks the scope this needs.",
            "headers": {**_PRIVATE, **_CHALLENGE}, "content": _PROBLEM},
    "429": _TOO_MANY,
}
_ID_PARAMETER = [{"name": "id", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1, "maximum": 999999999}}]
_PAGE_PARAMETERS = [
    {"name": "page", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": 999999999, "default": 1}},
    {"name": "per_page", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
]
_ORGANISER_NOT_FOUND = {"description": "No gathering with this id.", "headers": _PRIVATE,
                        "content": _PROBLEM}


def _organiser_ok(description: str, schema: str, *, paged: bool) -> dict:
    headers = {**_PRIVATE, "Link": {"required": True, "schema": {"type": "string"}}} \
        if paged else _PRIVATE
    return {"description": description, "headers": headers,
            "content": {"application/json": {"schema": {"$ref": _REF + schema}}}}


def _paged_schema(item: str) -> dict:
    return {
        "type": "object", "additionalProperties": False,
        "required": ["items", "page", "perPage", "total", "pages", "links"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": _REF + item}},
            "page": {"type": "integer", "minimum": 1},
            "perPage": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 1},
            "links": {"type": "object", "additionalProperties": False,
                      "required": ["self", "first", "last"],
                      "properties": {rel: _URL for rel in ("self", "first", "last", "prev",
                                                           "next")}},
        },
    }


_INSTANT = {"type": "string", "format": "date-time", "description": "In UTC."}
_MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time", "description": "In UTC."}
_SECURED = {"security": [{"organiserKey": []}], "tags": ["organiser"]}

DOCUMENT["info"]["description"] += (
    " The organiser API (/organiser/…) is another matter: an organiser's API key in "
    "`Authorization: Bearer klynge_…` (made under API-nøkler in the workspace), every "
    "gathering (drafts too) and its registrations with personal data, `private, no-store`, "
    "no CORS and no cookies; every request is written to the audit log.")
DOCUMENT["paths"].update({
    "/organiser/gatherings": {"get": {
        **_SECURED, "operationId": "listOrganiserGatherings",
        "summary": "Every gathering, drafts too, latest start first (scope gatherings:read)",
        "parameters": _PAGE_PARAMETERS,
        "responses": {"200": _organiser_ok("One page.", "OrganiserGatheringPage", paged=True),
                      **_ORGANISER_ERRORS},
    }},
    "/organiser/gatherings/{id}": {"parameters": _ID_PARAMETER, "get": {
        **_SECURED, "operationId": "getOrganiserGathering",
        "summary": "One gathering (scope gatherings:read)",
        "responses": {"200": _organiser_ok("The gathering.", "OrganiserGathering", paged=False),
                      "404": _ORGANISER_NOT_FOUND, **_ORGANISER_ERRORS},
    }},
    "/organiser/gatherings/{id}/registrations": {"parameters": _ID_PARAMETER, "get": {
        **_SECURED, "operationId": "listRegistrations",
        "summary": "A gathering's registrations, in the order they came "
                   "(scope registrations:read)",
        "parameters": _PAGE_PARAMETERS,
        "responses": {"200": _organiser_ok("One page.", "RegistrationPage", paged=True),
                      "404": _ORGANISER_NOT_FOUND, **_ORGANISER_ERRORS},
    }},
})
DOCUMENT["components"]["securitySchemes"] = {"organiserKey": {
    "type": "http", "scheme": "bearer", "bearerFormat": "klynge_<key id>_<secret>",
    "description": "An organiser's API key. Scopes: gatherings:read, registrations:read, "
                   "answers:read (the answers come with the registrations)."}}
DOCUMENT["components"]["schemas"].update({
    "OrganiserGatheringPage": _paged_schema("OrganiserGathering"),
    "RegistrationPage": _paged_schema("Registration"),
    "OrganiserGathering": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "slug", "title", "theme", "format", "status", "startsAt", "endsAt",
                     "venue", "capacity", "seatsLeft", "registrationDeadline", "counts", "links"],
        "properties": {
            "id": {"type": "integer"}, "slug": _string(), "title": _string(),
            "theme": _string(), "format": _string(),
            "status": {"enum": ["draft", "published", "postponed", "cancelled"]},
            "startsAt": _INSTANT, "endsAt": _INSTANT,
            "venue": {"type": "object", "additionalProperties": False,
                      "required": ["name", "address"],
                      "properties": {"name": _string(), "address": _string()}},
            "capacity": {"type": ["integer", "null"], "minimum": 0,
                         "description": "null: no limit on seats."},
            "seatsLeft": {"type": ["integer", "null"], "minimum": 0},
            "registrationDeadline": _MAYBE_INSTANT,
            "counts": {"type": "object", "additionalProperties": False,
                       "required": ["confirmed", "waiting", "cancelled", "checkedIn"],
                       "properties": {name: {"type": "integer", "minimum": 0} for name in
                                      ("confirmed", "waiting", "cancelled", "checkedIn")}},
            "links": {"type": "object", "additionalProperties": False,
                      "required": ["self", "registrations", "workspace"],
                      "properties": {"self": _URL, "registrations": _URL, "workspace": _URL}},
        },
    },
    "Registration": {
        "type": "object", "additionalProperties": False,
        "description": "One person's registration, with their personal data.",
        "required": ["id", "name", "email", "status", "waitingPosition", "organisation",
                     "jobTitle", "needs", "language", "checkedInAt", "createdAt"],
        "properties": {
            "id": {"type": "integer"}, "name": _string(), "email": _string(),
            "status": {"enum": ["confirmed", "waiting", "cancelled"]},
            "waitingPosition": {"type": ["integer", "null"], "minimum": 1,
                                "description": "1: next in line; null: not waiting."},
            "organisation": {"type": "object", "additionalProperties": False,
                             "required": ["name", "sector"],
                             "properties": {"name": _string(), "sector": {
                                 "enum": ["offentlig", "privat", "ideell", "frivillig"]}}},
            "jobTitle": _string(),
            "needs": _string(description="Diet and accessibility; emptied some days after the "
                                         "gathering (NEEDS_RETENTION_DAYS)."),
            "language": {"enum": ["nb", "nn", "en"]},
            "checkedInAt": _MAYBE_INSTANT, "createdAt": _INSTANT,
            "answers": {
                "type": "array", "description": "Only with the answers:read scope: the answers "
                "to the organisers' own questions, one per question in the form's order (\"\" "
                "where not answered; choices as their labels, joined by \", \").",
                "items": {"type": "object", "additionalProperties": False,
                          "required": ["questionId", "question", "answer"],
                          "properties": {"questionId": {"type": "integer"},
                                         "question": _string(), "answer": _string()}}},
        },
    },
})
