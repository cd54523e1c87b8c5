; Definitions, bases, call sites and imports for PHP, read by indexer/extract/tagged.py (capture names there).
; `namespace X;` wraps nothing in the tree, so namespaces are no symbols; `use` and require/include are imports.

(class_declaration name: (name) @name body: (_) @body) @definition.type
(interface_declaration name: (name) @name body: (_) @body) @definition.type
(trait_declaration name: (name) @name body: (_) @body) @definition.type
(enum_declaration name: (name) @name body: (_) @body) @definition.type
(method_declaration name: (name) @name body: (_)? @body) @definition.callable
(function_definition name: (name) @name body: (_) @body) @definition.callable

(class_declaration (base_clause [(name) (qualified_name)] @base)) @bases
(class_declaration (class_interface_clause [(name) (qualified_name)] @base)) @bases
(interface_declaration (base_clause [(name) (qualified_name)] @base)) @bases

(function_call_expression function: (_) @callee) @call
(member_call_expression object: (_) @call.receiver name: (_) @call.name) @call
(nullsafe_member_call_expression object: (_) @call.receiver name: (_) @call.name) @call
(scoped_call_expression scope: (_) @call.receiver name: (_) @call.name) @call
(object_creation_expression [(name) (qualified_name)] @callee) @call

(namespace_use_declaration (namespace_use_clause . [(qualified_name) (name)] @import.module)) @import
(namespace_use_declaration
  (namespace_use_clause . [(qualified_name) (name)] @import.module alias: (name) @import.alias)) @import
[
  (require_expression (string (string_content) @import.module))
  (require_once_expression (string (string_content) @import.module))
  (include_expression (string (string_content) @import.module))
  (include_once_expression (string (string_content) @import.module))
] @import
