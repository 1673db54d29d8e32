// Each test class starts the whole AppHost: two side by side on two cores starve each other's cold first requests.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
