use schema_migrate::Versioned;

#[derive(Versioned)]
#[schema(version = 1)]
pub struct JobV1 {
    pub name: String,
}

#[derive(Clone, Versioned)]
#[schema(version = 2, migrate(from = JobV1, reversible))]
pub struct Job {
    pub title: String,
}

impl From<JobV1> for Job {
    fn from(v1: JobV1) -> Self {
        Job { title: v1.name }
    }
}

fn main() {}
