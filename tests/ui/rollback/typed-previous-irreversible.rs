use schema_migrate::Versioned;

#[derive(Clone, Versioned)]
#[schema(version = 2, migrate(from = 1, remove(legacy)))]
pub struct JobV2 {
    pub name: String,
}

#[derive(Clone, Versioned)]
#[schema(version = 3, write_version = 1, migrate(from = JobV2, reversible))]
pub struct Job {
    pub title: String,
}

impl From<JobV2> for Job {
    fn from(v2: JobV2) -> Self {
        Job { title: v2.name }
    }
}

impl From<Job> for JobV2 {
    fn from(job: Job) -> Self {
        JobV2 { name: job.title }
    }
}

fn main() {}
