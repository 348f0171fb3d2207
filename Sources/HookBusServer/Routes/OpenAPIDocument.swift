/// The OpenAPI 3.1 document of the HTTP API, served at `GET /api/v1/openapi.json`. Written by
/// hand, next to the routes it describes; `OpenAPITests` fails when a registered route is not in
/// it (or one in it is not registered), so the two cannot drift apart.
enum OpenAPIDocument {
    static let json = #"""
{
 "openapi": "3.1.0",
 "info": {
  "title": "HookBus",
  "version": "1",
  "description": "A trigger and hook event bus. Every error is `{\"error\": {\"code\", \"message\"}}` with a 4xx or 5xx status. Roles: `sender` (hooks, bulk import, buttons), `operator` (audit trail, actions, schedules), `metrics`; each webhook endpoint authenticates its senders by its own scheme (configured in `hookbus.yaml`). With `--open-on-loopback`, routes of a role with no token answer anyone on a loopback address."
 },
 "paths": {
  "/api/v1/hooks/{hook}": {
   "post": {
    "operationId": "postHook",
    "summary": "An incident system's hook",
    "tags": [
     "sender"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "hook",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "One of the hooks (`updateIncident`, `closeTask`, `addObservableIp`, `incidentCustomAction`, …)."
     },
     {
      "name": "Idempotency-Key",
      "in": "header",
      "required": false,
      "description": "A key the sender gives once per logical event (1–255 printable characters): a repeat within `server.idempotency_window` stores nothing.",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 255
      }
     },
     {
      "name": "wait",
      "in": "query",
      "required": false,
      "description": "Wait up to this many seconds (0–300) for the event's runs and answer 200 with them; 202 when they take longer.",
      "schema": {
       "type": "number",
       "minimum": 0,
       "maximum": 300
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "description": "The hook's params by name (`incidentsBeforeUpdate`, `incidentsAfterUpdate`, `incidentsDetail`, `tasksDetail`, `observablesDetail`, …); custom-action hooks also take `trigger` and `text`.",
        "additionalProperties": true
       }
      }
     }
    },
    "responses": {
     "202": {
      "description": "Stored durably; its triggers run in the background (`Location` names the event).",
      "headers": {
       "Location": {
        "schema": {
         "type": "string"
        }
       },
       "Idempotent-Replayed": {
        "description": "`true` when the `Idempotency-Key` was seen before: the first event's id is answered and nothing is stored.",
        "schema": {
         "type": "string"
        }
       }
      },
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Accepted"
        }
       }
      }
     },
     "200": {
      "description": "With `?wait=N`: the event's runs ended within N seconds; the runs are in the answer.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/WaitedEvent"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error400"
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "413": {
      "$ref": "#/components/responses/Error413"
     },
     "415": {
      "$ref": "#/components/responses/Error415"
     },
     "422": {
      "$ref": "#/components/responses/Error422"
     },
     "503": {
      "$ref": "#/components/responses/Error503"
     }
    }
   }
  },
  "/api/v1/webhooks/{name}": {
   "post": {
    "operationId": "postWebhook",
    "summary": "An external system's webhook",
    "tags": [
     "webhook"
    ],
    "description": "Any body (JSON, form, XML, text, bytes), kept byte for byte. Authenticated by the endpoint's scheme: none, a token in a header or query parameter, or an HMAC signature over the body (GitHub, Slack, Stripe, PagerDuty styles).",
    "security": [
     {},
     {
      "bearerAuth": []
     },
     {
      "webhookSignature": []
     }
    ],
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "Idempotency-Key",
      "in": "header",
      "required": false,
      "description": "A key the sender gives once per logical event (1–255 printable characters): a repeat within `server.idempotency_window` stores nothing.",
      "schema": {
       "type": "string",
       "minLength": 1,
       "maxLength": 255
      }
     },
     {
      "name": "wait",
      "in": "query",
      "required": false,
      "description": "Wait up to this many seconds (0–300) for the event's runs and answer 200 with them; 202 when they take longer.",
      "schema": {
       "type": "number",
       "minimum": 0,
       "maximum": 300
      }
     }
    ],
    "requestBody": {
     "required": false,
     "content": {
      "*/*": {
       "schema": {
        "type": "string",
        "format": "binary"
       }
      }
     }
    },
    "responses": {
     "202": {
      "description": "Stored durably; its triggers run in the background (`Location` names the event).",
      "headers": {
       "Location": {
        "schema": {
         "type": "string"
        }
       },
       "Idempotent-Replayed": {
        "description": "`true` when the `Idempotency-Key` was seen before: the first event's id is answered and nothing is stored.",
        "schema": {
         "type": "string"
        }
       }
      },
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Accepted"
        }
       }
      }
     },
     "200": {
      "description": "With `?wait=N`: the event's runs ended within N seconds; the runs are in the answer.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/WaitedEvent"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error400"
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "413": {
      "$ref": "#/components/responses/Error413"
     },
     "415": {
      "$ref": "#/components/responses/Error415"
     },
     "503": {
      "$ref": "#/components/responses/Error503"
     }
    }
   }
  },
  "/api/v1/events": {
   "post": {
    "operationId": "importEvents",
    "summary": "Bulk import of recorded events (JSON Lines)",
    "tags": [
     "sender"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "description": "One recorded event per line, each stored as a replay of the event its `id` names (also its idempotency key). Lines are judged one by one: a bad line gets its error and does not stop the others.",
    "requestBody": {
     "required": true,
     "content": {
      "application/x-ndjson": {
       "schema": {
        "type": "string"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "A result per line.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ImportResult"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error400"
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "413": {
      "$ref": "#/components/responses/Error413"
     },
     "415": {
      "$ref": "#/components/responses/Error415"
     },
     "503": {
      "$ref": "#/components/responses/Error503"
     }
    }
   }
  },
  "/api/v1/buttons/{element}": {
   "post": {
    "operationId": "listButtons",
    "summary": "The custom-action buttons available for an incident or a task",
    "tags": [
     "sender"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "element",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string",
       "enum": [
        "incident",
        "task"
       ]
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "additionalProperties": true,
        "description": "The incident or task as a JSON object."
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "The buttons whose `check_not_null_field` the element passes.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Buttons"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error400"
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "413": {
      "$ref": "#/components/responses/Error413"
     },
     "415": {
      "$ref": "#/components/responses/Error415"
     }
    }
   }
  },
  "/api/v1/events/{id}": {
   "get": {
    "operationId": "getEvent",
    "summary": "An event, its runs, and why what has not finished waits",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "The event as recorded (payload as sent), its state, attempt, runs and — unless done — `waiting`.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/EventDetail"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     }
    }
   }
  },
  "/api/v1/events/{id}/redrive": {
   "post": {
    "operationId": "redriveEvent",
    "summary": "Run an event's failed triggers again (or every trigger that ran, when none failed)",
    "description": "Each new run is linked to the run it repeats and records the token's name. A trigger that waits on disk (a retry, a hold, a limit) is left to it. Answers once the runs have ended.",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "The runs it made, and the runs left waiting on disk.",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "event": {
           "type": "string"
          },
          "runs": {
           "type": "array",
           "items": {
            "type": "object",
            "additionalProperties": true
           }
          },
          "waiting": {
           "type": "array",
           "items": {
            "type": "object",
            "additionalProperties": true
           }
          }
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "409": {
      "description": "The event is still pending or running, its failed triggers wait on disk already, or nothing ran for it.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/Error503"
     }
    }
   }
  },
  "/api/v1/runs": {
   "get": {
    "operationId": "listRuns",
    "summary": "The audit trail",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "event",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      },
      "description": "Only runs of this event."
     },
     {
      "name": "trigger",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      },
      "description": "Only runs of this trigger (`Action` or `Integration/Action`)."
     },
     {
      "name": "outcome",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      },
      "description": "Only runs with this outcome (succeeded, failed, timed out, killed, skipped, interrupted, error, dead, running)."
     },
     {
      "name": "since",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string",
       "pattern": "^([0-9]{1,9}[smhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?Z)$"
      },
      "description": "A UTC time (`2026-12-03T10:00:00Z`), or an age like 30m, 12h, 7d."
     },
     {
      "name": "after",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "format": "int64",
       "minimum": -9223372036854775808,
       "maximum": 9223372036854775807
      },
      "description": "Only runs with a greater id (oldest first)."
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 10000
      },
      "description": "At most this many (default 100)."
     }
    ],
    "responses": {
     "200": {
      "description": "Runs, newest first (oldest first with `after`).",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "runs"
         ],
         "properties": {
          "runs": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Run"
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error400"
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     }
    }
   }
  },
  "/api/v1/integrations/{name}/test": {
   "post": {
    "operationId": "testConnection",
    "summary": "An integration's connection test",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "What the test answered (recorded in the audit trail).",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "additionalProperties": true
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "422": {
      "$ref": "#/components/responses/Error422"
     },
     "503": {
      "$ref": "#/components/responses/Error503"
     }
    }
   }
  },
  "/api/v1/integrations/{name}/actions/{action}/run": {
   "post": {
    "operationId": "runAction",
    "summary": "Test Action: run any action with field values",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "action",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "properties": {
         "fields": {
          "type": "object",
          "additionalProperties": true
         }
        }
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "The run, with its output and results.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/CompletedRun"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error400"
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "413": {
      "$ref": "#/components/responses/Error413"
     },
     "415": {
      "$ref": "#/components/responses/Error415"
     },
     "422": {
      "$ref": "#/components/responses/Error422"
     },
     "503": {
      "$ref": "#/components/responses/Error503"
     }
    }
   }
  },
  "/api/v1/schedules": {
   "post": {
    "operationId": "startSchedule",
    "summary": "Start a Scheduled action",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "integration",
         "action"
        ],
        "properties": {
         "integration": {
          "type": "string"
         },
         "action": {
          "type": "string"
         },
         "fields": {
          "type": "object",
          "additionalProperties": true
         }
        }
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Started; `Location` names it.",
      "headers": {
       "Location": {
        "schema": {
         "type": "string"
        }
       }
      },
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Schedule"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error400"
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     },
     "413": {
      "$ref": "#/components/responses/Error413"
     },
     "415": {
      "$ref": "#/components/responses/Error415"
     },
     "422": {
      "$ref": "#/components/responses/Error422"
     }
    }
   },
   "get": {
    "operationId": "listSchedules",
    "summary": "Every schedule",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "responses": {
     "200": {
      "description": "Schedules in start order.",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "schedules"
         ],
         "properties": {
          "schedules": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Schedule"
           }
          }
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     }
    }
   }
  },
  "/api/v1/schedules/{id}": {
   "get": {
    "operationId": "getSchedule",
    "summary": "One schedule",
    "tags": [
     "operator"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "The schedule.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Schedule"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "404": {
      "$ref": "#/components/responses/Error404"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     }
    }
   }
  },
  "/api/v1/openapi.json": {
   "get": {
    "operationId": "getOpenAPI",
    "summary": "This document",
    "tags": [
     "system"
    ],
    "security": [
     {}
    ],
    "responses": {
     "200": {
      "description": "The OpenAPI 3.1 document of the HTTP API.",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     }
    }
   }
  },
  "/healthz": {
   "get": {
    "operationId": "health",
    "summary": "Health: ok, or degraded while run records cannot be written",
    "tags": [
     "system"
    ],
    "security": [
     {}
    ],
    "responses": {
     "200": {
      "description": "Always 200 while the server runs; `status` says ok or degraded.",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Health"
        }
       }
      }
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "operationId": "metrics",
    "summary": "Prometheus metrics",
    "tags": [
     "system"
    ],
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "responses": {
     "200": {
      "description": "The Prometheus text format.",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Error401"
     },
     "403": {
      "$ref": "#/components/responses/Error403"
     },
     "405": {
      "$ref": "#/components/responses/Error405"
     }
    }
   }
  }
 },
 "components": {
  "responses": {
   "Error400": {
    "description": "Malformed request: a body that is not JSON (`malformed_json`), an unreadable body (`malformed_body`), a bad query (`invalid_query`) or `Idempotency-Key` (`invalid_idempotency_key`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error401": {
    "description": "No credentials, or wrong ones (`unauthorized`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error403": {
    "description": "A token of a role this route does not admit, or a route with no token configured (`forbidden`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error404": {
    "description": "Unknown name or id (`unknown_event`, `unknown_schedule`, `unknown_webhook`, `unknown_element`, `unknown_hook`, `not_found`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error405": {
    "description": "Another method on a known path (`method_not_allowed`, with `Allow`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error413": {
    "description": "Body over the limit (`too_large`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error415": {
    "description": "A content type the route or endpoint does not take (`unsupported_media_type`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error422": {
    "description": "Well-formed but not acceptable: a missing or misshapen param (`missing_param`, `wrong_shape`), an unknown trigger or field (`unknown_trigger`, `invalid_fields`), a schedule that cannot start (`invalid_schedule`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Error503": {
    "description": "The backlog is over its limit (`backlog_full`, with `Retry-After`) or the store cannot take the event (`store_unavailable`).",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  },
  "securitySchemes": {
   "bearerAuth": {
    "type": "http",
    "scheme": "bearer",
    "description": "A token of `server.tokens` (its role decides which routes answer it)."
   },
   "webhookSignature": {
    "type": "apiKey",
    "in": "header",
    "name": "X-Hub-Signature-256",
    "description": "An HMAC of the body (the header's name and form are the endpoint's: GitHub, Slack, Stripe, PagerDuty, …)."
   }
  },
  "schemas": {
   "Error": {
    "type": "object",
    "required": [
     "error"
    ],
    "properties": {
     "error": {
      "type": "object",
      "required": [
       "code",
       "message"
      ],
      "properties": {
       "code": {
        "type": "string"
       },
       "message": {
        "type": "string"
       }
      }
     }
    }
   },
   "Accepted": {
    "type": "object",
    "required": [
     "event",
     "duplicate"
    ],
    "properties": {
     "event": {
      "type": "string"
     },
     "duplicate": {
      "type": "boolean"
     }
    }
   },
   "WaitedEvent": {
    "type": "object",
    "required": [
     "event",
     "duplicate",
     "state",
     "runs"
    ],
    "properties": {
     "event": {
      "type": "string"
     },
     "duplicate": {
      "type": "boolean"
     },
     "state": {
      "type": "string"
     },
     "runs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Run"
      }
     }
    }
   },
   "ImportResult": {
    "type": "object",
    "required": [
     "accepted",
     "duplicates",
     "rejected",
     "results"
    ],
    "properties": {
     "accepted": {
      "type": "integer"
     },
     "duplicates": {
      "type": "integer"
     },
     "rejected": {
      "type": "integer"
     },
     "results": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "line"
       ],
       "properties": {
        "line": {
         "type": "integer"
        },
        "event": {
         "type": "string"
        },
        "duplicate": {
         "type": "boolean"
        },
        "error": {
         "type": "object",
         "properties": {
          "code": {
           "type": "string"
          },
          "message": {
           "type": "string"
          },
          "status": {
           "type": "integer"
          }
         }
        }
       }
      }
     }
    }
   },
   "Buttons": {
    "type": "object",
    "required": [
     "buttons"
    ],
    "properties": {
     "buttons": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "trigger",
        "integration",
        "showModal"
       ],
       "properties": {
        "trigger": {
         "type": "string"
        },
        "integration": {
         "type": "string"
        },
        "showModal": {
         "type": "boolean"
        }
       }
      }
     }
    }
   },
   "Run": {
    "type": "object",
    "required": [
     "run",
     "event",
     "hook",
     "attempt",
     "integration",
     "trigger",
     "outcome",
     "startedAt"
    ],
    "additionalProperties": true,
    "properties": {
     "run": {
      "type": "integer"
     },
     "event": {
      "type": "string"
     },
     "hook": {
      "type": "string"
     },
     "attempt": {
      "type": "integer"
     },
     "integration": {
      "type": "string"
     },
     "trigger": {
      "type": "string"
     },
     "outcome": {
      "type": "string",
      "enum": [
       "succeeded",
       "failed",
       "timed out",
       "killed",
       "skipped",
       "interrupted",
       "error",
       "dead",
       "running"
      ]
     },
     "startedAt": {
      "type": "string"
     },
     "endedAt": {
      "type": "string"
     },
     "durationSeconds": {
      "type": "number"
     },
     "exitCode": {
      "type": "integer"
     },
     "signal": {
      "type": "integer"
     },
     "stdout": {
      "type": "string"
     },
     "stderr": {
      "type": "string"
     },
     "stdoutDropped": {
      "type": "integer"
     },
     "stderrDropped": {
      "type": "integer"
     },
     "reason": {
      "type": "string"
     },
     "previousRun": {
      "type": "integer"
     },
     "requestedBy": {
      "type": "string"
     },
     "invocation": {
      "type": "object"
     },
     "results": {}
    }
   },
   "WaitReason": {
    "type": "object",
    "required": [
     "kind",
     "reason"
    ],
    "properties": {
     "kind": {
      "type": "string",
      "enum": [
       "backlog",
       "slot",
       "order",
       "retry",
       "limit"
      ]
     },
     "trigger": {
      "type": "string"
     },
     "reason": {
      "type": "string"
     },
     "dueAt": {
      "type": "string"
     },
     "attempt": {
      "type": "integer"
     }
    }
   },
   "EventDetail": {
    "type": "object",
    "required": [
     "event",
     "state",
     "attempt",
     "runs"
    ],
    "properties": {
     "event": {
      "type": "object",
      "additionalProperties": true
     },
     "state": {
      "type": "string",
      "enum": [
       "pending",
       "running",
       "waiting",
       "done"
      ]
     },
     "attempt": {
      "type": "integer"
     },
     "runs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Run"
      }
     },
     "waiting": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/WaitReason"
      }
     }
    }
   },
   "CompletedRun": {
    "type": "object",
    "required": [
     "event",
     "integration",
     "action",
     "outcome"
    ],
    "additionalProperties": true,
    "properties": {
     "run": {
      "type": "integer"
     },
     "event": {
      "type": "string"
     },
     "integration": {
      "type": "string"
     },
     "action": {
      "type": "string"
     },
     "outcome": {
      "type": "string"
     },
     "stdout": {
      "type": "string"
     },
     "stderr": {
      "type": "string"
     },
     "results": {}
    }
   },
   "Schedule": {
    "type": "object",
    "required": [
     "id",
     "integration",
     "action",
     "state"
    ],
    "additionalProperties": true,
    "properties": {
     "id": {
      "type": "string"
     },
     "integration": {
      "type": "string"
     },
     "action": {
      "type": "string"
     },
     "state": {
      "type": "string"
     },
     "fields": {
      "type": "object"
     }
    }
   },
   "Health": {
    "type": "object",
    "required": [
     "status",
     "backlog",
     "audit"
    ],
    "properties": {
     "status": {
      "type": "string",
      "enum": [
       "ok",
       "degraded"
      ]
     },
     "backlog": {
      "type": "integer"
     },
     "audit": {
      "type": "object",
      "properties": {
       "writing": {
        "type": "boolean"
       },
       "failures": {
        "type": "integer"
       },
       "lost": {
        "type": "integer"
       }
      }
     }
    }
   }
  }
 }
}
"""#
}
