; Definitions, call sites, imports and module-level names for TypeScript and TSX (same node types).
; Capture names are read by indexer/extract/generic.py: @definition, @call, @local, @field, @import, @module_name.

(class_declaration) @definition
(class name: (_)) @definition  ; named class expressions, also what error recovery turns declarations into
(abstract_class_declaration) @definition
(interface_declaration) @definition
(type_alias_declaration) @definition
(enum_declaration) @definition
(internal_module) @definition
(function_declaration) @definition
(generator_function_declaration) @definition
(method_definition) @definition
(public_field_definition value: [(arrow_function) (function_expression)]) @definition
(variable_declarator
  name: (identifier)
  value: [(arrow_function) (function_expression) (generator_function)]) @definition
(assignment_expression
  left: (member_expression)
  right: [(arrow_function) (function_expression)]) @definition
(variable_declarator name: (identifier) value: (object)) @definition  ; kept when it holds functions
(object (pair value: [(arrow_function) (function_expression)]) @definition)

(call_expression) @call
(new_expression) @call

(import_statement) @import
(export_statement source: (_)) @import

(program [(lexical_declaration (variable_declarator name: (identifier) @module_name))
          (variable_declaration (variable_declarator name: (identifier) @module_name))])
(program (export_statement
  declaration: [(lexical_declaration (variable_declarator name: (identifier) @module_name))
                (variable_declaration (variable_declarator name: (identifier) @module_name))]))

; Local variables whose declaration writes or makes their type: calls on them resolve to its methods.
(variable_declarator) @local

; A class's fields and their types (`bell: Bell`, `cart = new Cart()`, `constructor(private jar: Jar)`,
; `this.cart = new Cart()` in a method): `this.bell.ring()` resolves to them.
(public_field_definition) @field
(required_parameter (accessibility_modifier)) @field
(required_parameter "readonly") @field
(assignment_expression left: (member_expression object: (this)) right: (new_expression)) @field
