; Definitions, bases, call sites and imports for Swift, read by indexer/extract/tagged.py (capture names there).
; class, struct, enum, actor and extension are all class_declarations; an extension is no symbol but makes
; its functions methods of the type it extends (as a Rust impl does). Protocol requirements have no body.

(class_declaration declaration_kind: ["class" "struct" "enum" "actor"]
  name: (type_identifier) @name body: (_) @body) @definition.type
(class_declaration declaration_kind: "extension"
  name: (user_type (type_identifier) @name) body: (_) @body) @definition.impl
(protocol_declaration name: (type_identifier) @name body: (_) @body) @definition.type
(function_declaration name: (simple_identifier) @name body: (_) @body) @definition.callable

(class_declaration declaration_kind: ["class" "struct" "enum" "actor"]
  (inheritance_specifier inherits_from: (user_type) @base)) @bases
(protocol_declaration (inheritance_specifier inherits_from: (user_type) @base)) @bases

(call_expression . [(simple_identifier) (navigation_expression)] @callee) @call

(import_declaration (identifier) @import.module) @import
