; JSX elements in JavaScript and TSX: rendering <Component/> is recorded as a call of Component.
; Appended to javascript.scm and typescript.scm for the grammars that know JSX.

(jsx_opening_element name: (_)) @call
(jsx_self_closing_element name: (_)) @call
