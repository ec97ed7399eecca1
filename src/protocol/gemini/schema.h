// JSON Schema <-> the OpenAPI subset Gemini's FunctionDeclaration.parameters and
// GenerationConfig.responseSchema accept (https://ai.google.dev/api/caching#Schema).
// Defined in codec.cpp.
#pragma once

#include <boost/json/value.hpp>

namespace sy::gemini {

// JSON Schema -> Gemini Schema. Gemini rejects keywords it does not know, so only its own are
// kept (type, format, title, description, nullable, enum, items, properties, required, anyOf,
// min/max*, pattern, example, default, propertyOrdering); besides:
// - $ref into $defs/definitions (any local JSON pointer) is inlined; a reference chain deeper
//   than `max_ref_depth` or past a total budget (nodes, bytes) becomes {"type":"object"}, so a
//   recursive schema cannot blow up; so does anything nested deeper than `max_schema_depth`.
// - type ["x","null"] -> type x + nullable; ["x","y"] -> anyOf; anyOf/oneOf lose a {"type":
//   "null"} branch to nullable (one branch left: merged in).
// - const v -> enum [v]; enum values become strings (Gemini's enum is string-typed); allOf is
//   merged; format kept only when Gemini knows it; empty `properties` dropped.
boost::json::value to_gemini_schema(const boost::json::value& schema);

// Gemini Schema -> JSON Schema, for what a Gemini client sends in `parameters` or
// `responseSchema`: type names in lowercase, nullable -> type [x, "null"].
boost::json::value from_gemini_schema(const boost::json::value& schema);

inline constexpr int max_ref_depth = 8;
// Deeper schema levels (properties in properties...) become {"type":"object"}.
inline constexpr int max_schema_depth = 32;

}  // namespace sy::gemini
