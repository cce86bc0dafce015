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
