//! One module per experiment; each writes its data into the output folder and returns the
//! claims it checked.

pub mod student_t;
