crate::top_hidden_include::f();
