; Definitions, bases, call sites and imports for C#, read by indexer/extract/tagged.py (capture names there).
; Namespaces are no symbols (as Java's packages are not): a class is found by its name wherever it lives.
; The file records which namespaces it declares, for `using` (indexer/resolve/breadth_imports.py).
; Constructors are no symbols either: `new Greeter()` names the class, and a constructor of the same name
; would make that name ambiguous.

(class_declaration name: (identifier) @name body: (_) @body) @definition.type
(struct_declaration name: (identifier) @name body: (_) @body) @definition.type
(record_declaration name: (identifier) @name) @definition.type
(interface_declaration name: (identifier) @name body: (_) @body) @definition.type
(enum_declaration name: (identifier) @name body: (_) @body) @definition.type
(method_declaration name: (identifier) @name body: (_)? @body) @definition.callable
(local_function_statement name: (identifier) @name body: (_)? @body) @definition.callable

(class_declaration (base_list [(identifier) (qualified_name) (generic_name)] @base)) @bases
(struct_declaration (base_list [(identifier) (qualified_name) (generic_name)] @base)) @bases
(record_declaration (base_list [(identifier) (qualified_name) (generic_name)] @base)) @bases
(interface_declaration (base_list [(identifier) (qualified_name) (generic_name)] @base)) @bases

(invocation_expression function: (member_access_expression expression: (_) @call.receiver name: (_) @call.name)) @call
(invocation_expression function: [(identifier) (generic_name)] @call.name) @call
(object_creation_expression type: (_) @callee) @call

(using_directive name: (identifier) @import.alias [(qualified_name) (identifier)] @import.module) @import
(using_directive !name [(qualified_name) (identifier)] @import.module) @import

(namespace_declaration name: (_) @namespace.name) @namespace
(file_scoped_namespace_declaration name: (_) @namespace.name) @namespace
